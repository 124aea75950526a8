//! Intake checks on the applicant's identity: resident IDs (公民身份号码, GB 11643-1999) and
//! unified social credit codes (统一社会信用代码, GB 32100-2015).
//!
//! Both schemes' check characters detect every single-character substitution, so a typo at the
//! window is caught before the case is accepted instead of surfacing days later at a department
//! that cannot find the applicant.
//!
//! Besides the structure and check characters defined by the standards, intake refuses what the
//! departments' own validators refuse, so a case is not accepted here only to bounce there:
//!
//! - an all-zero ID or code, a placeholder rather than anyone's identity;
//! - a resident ID born before 1900-01-01 or after today ([`check_resident_id_on`] and
//!   [`validate_on`]: the library has no clock, so the caller gives today's date);
//! - a credit code whose registration authority (position 1) and organisation type (position 2)
//!   are not a pair in [`CREDIT_AUTHORITIES`], or whose region part (positions 3-8) is not six
//!   digits.
//!
//! Whether the ID exists, whether the region part is a current GB/T 2260 division, and the
//! GB 11714 organisation code embedded in a credit code are left to the departments' own systems:
//! divisions are merged and renamed, and checking against today's list would reject codes issued
//! under an earlier one.

use crate::date::Date;
use crate::event::{Applicant, ApplicantKind};

/// Longest applicant name accepted, in characters (long organisation names run to ~60).
pub const MAX_NAME_CHARS: usize = 200;

/// Number of characters in both a resident ID and a credit code.
const ID_LEN: usize = 18;

/// Earliest birth year accepted in a resident ID when checked against today's date.
const EARLIEST_BIRTH_YEAR: i32 = 1900;

/// GB 11643 weights `2^(17-i) mod 11` for the first 17 digits.
const RESIDENT_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// GB 11643 check character indexed by `sum mod 11`.
const RESIDENT_CHECK: &[u8; 11] = b"10X98765432";

/// GB 32100 alphabet: digits and the capital letters except I, O, S, V and Z. A character's value
/// is its index.
const CREDIT_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// GB 32100 weights `3^i mod 31`.
const CREDIT_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// A registration-authority code (登记管理部门码, position 1 of a credit code) and the
/// organisation-type codes (机构类别码, position 2) defined under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreditAuthority {
    pub code: char,
    pub name: &'static str,
    /// Each organisation-type code with its name.
    pub types: &'static [(char, &'static str)],
}

/// The registration-authority / organisation-type pairs of unified social credit codes.
///
/// Authorities 1 (机构编制), 5 (民政), 9 (工商) and Y (其他) are those of GB 32100-2015
/// 《法人和其他组织统一社会信用代码编码规则》; the others (2 外交, 3 司法行政, 4 文化, 6 旅游,
/// 7 宗教, 8 工会, A 中央军委改革和编制办公室, N 农业) were assigned after 2015 and are accepted
/// by the departments' validators. A pair not listed here is refused.
pub const CREDIT_AUTHORITIES: &[CreditAuthority] = &[
    CreditAuthority {
        code: '1',
        name: "机构编制",
        types: &[
            ('1', "机关"),
            ('2', "事业单位"),
            ('3', "中央编办直接管理机构编制的群众团体"),
            ('9', "其他"),
        ],
    },
    CreditAuthority {
        code: '2',
        name: "外交",
        types: &[('1', "外国常驻新闻机构"), ('9', "其他")],
    },
    CreditAuthority {
        code: '3',
        name: "司法行政",
        types: &[
            ('1', "律师执业机构"),
            ('2', "公证处"),
            ('3', "基层法律服务所"),
            ('4', "司法鉴定机构"),
            ('5', "仲裁委员会"),
            ('9', "其他"),
        ],
    },
    CreditAuthority {
        code: '4',
        name: "文化",
        types: &[('1', "外国在华文化中心"), ('9', "其他")],
    },
    CreditAuthority {
        code: '5',
        name: "民政",
        types: &[
            ('1', "社会团体"),
            ('2', "民办非企业单位"),
            ('3', "基金会"),
            ('9', "其他"),
        ],
    },
    CreditAuthority {
        code: '6',
        name: "旅游",
        types: &[
            ('1', "外国旅游部门常驻代表机构"),
            ('2', "港澳台地区旅游部门常驻内地（大陆）代表机构"),
            ('9', "其他"),
        ],
    },
    CreditAuthority {
        code: '7',
        name: "宗教",
        types: &[('1', "宗教活动场所"), ('2', "宗教院校"), ('9', "其他")],
    },
    CreditAuthority {
        code: '8',
        name: "工会",
        types: &[('1', "基层工会"), ('9', "其他")],
    },
    CreditAuthority {
        code: '9',
        name: "工商",
        types: &[('1', "企业"), ('2', "个体工商户"), ('3', "农民专业合作社")],
    },
    CreditAuthority {
        code: 'A',
        name: "中央军委改革和编制办公室",
        types: &[('1', "军队事业单位"), ('9', "其他")],
    },
    CreditAuthority {
        code: 'N',
        name: "农业",
        types: &[
            ('1', "组级集体经济组织"),
            ('2', "村级集体经济组织"),
            ('3', "乡镇级集体经济组织"),
            ('9', "其他"),
        ],
    },
    CreditAuthority {
        code: 'Y',
        name: "其他",
        types: &[('1', "其他")],
    },
];

/// Why an applicant's identity was refused at intake. Messages name the value and say exactly
/// what is wrong, because they are shown to the window clerk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplicantError {
    #[error("resident ID {id} has {len} characters, needs 18")]
    ResidentIdLength { id: String, len: usize },
    #[error("resident ID {id} is all zeros, a placeholder rather than a real ID (公民身份号码)")]
    ResidentIdAllZero { id: String },
    #[error("resident ID {id} has {ch:?} at position {pos}; positions 1-17 must be digits")]
    ResidentIdNotDigit { id: String, ch: char, pos: usize },
    #[error("resident ID {id} ends in lowercase 'x'; write the check character as uppercase 'X'")]
    ResidentIdLowercaseX { id: String },
    #[error("resident ID {id} ends in {ch:?}; the check character must be a digit or 'X'")]
    ResidentIdBadCheckChar { id: String, ch: char },
    #[error("resident ID {id} contains birth date {birth}, which is not a real date (YYYYMMDD)")]
    ResidentIdBirthDate { id: String, birth: String },
    #[error(
        "resident ID {id} gives birth date {birth} (positions 7-14), before 1900-01-01; \
         birth dates before 1900 are not accepted"
    )]
    ResidentIdBornBefore1900 { id: String, birth: Date },
    #[error(
        "resident ID {id} gives birth date {birth} (positions 7-14), after today ({today}); \
         a birth date cannot be in the future"
    )]
    ResidentIdBornInFuture {
        id: String,
        birth: Date,
        today: Date,
    },
    #[error("resident ID {id} check digit is {found}, expected {expected}")]
    ResidentIdCheck {
        id: String,
        found: char,
        expected: char,
    },
    #[error("unified social credit code {code} has {len} characters, needs 18")]
    CreditCodeLength { code: String, len: usize },
    #[error(
        "unified social credit code {code} is all zeros, a placeholder rather than a real code \
         (统一社会信用代码)"
    )]
    CreditCodeAllZero { code: String },
    #[error(
        "unified social credit code {code} contains {ch:?} at position {pos}; \
         letters must be uppercase"
    )]
    CreditCodeLowercase { code: String, ch: char, pos: usize },
    #[error(
        "unified social credit code {code} contains {ch:?} at position {pos}, \
         which GB 32100 does not use"
    )]
    CreditCodeBadChar { code: String, ch: char, pos: usize },
    #[error(
        "unified social credit code {code} starts with {authority:?}, which is not a \
         registration-authority code (登记管理部门码); position 1 must be one of {}",
        authority_codes()
    )]
    CreditCodeAuthority { code: String, authority: char },
    #[error(
        "unified social credit code {code} has organisation type {org_type:?} at position 2, \
         which registration authority {authority} ({}) does not define (机构类别码); \
         it defines {}",
        authority_name(.authority),
        authority_types(.authority)
    )]
    CreditCodeOrgType {
        code: String,
        authority: char,
        org_type: char,
    },
    #[error(
        "unified social credit code {code} has {region} in positions 3-8, with {ch:?} at \
         position {pos}; the registering authority's region code (登记管理机关行政区划码) must be \
         six digits"
    )]
    CreditCodeRegion {
        code: String,
        region: String,
        ch: char,
        pos: usize,
    },
    #[error("unified social credit code {code} check character is {found}, expected {expected}")]
    CreditCodeCheck {
        code: String,
        found: char,
        expected: char,
    },
    #[error("applicant name is empty")]
    EmptyName,
    #[error("applicant name has {len} characters, at most {max} are allowed")]
    NameTooLong { len: usize, max: usize },
}

/// Checks an applicant at intake, with the birth date of a resident ID checked against `today`
/// (China Standard Time): a non-blank name of bounded length, and an ID valid for its kind
/// (resident ID for a person, credit code for an organisation).
pub fn validate_on(applicant: &Applicant, today: Date) -> Result<(), ApplicantError> {
    check_applicant(applicant, Some(today))
}

/// [`validate_on`] without today's date: a resident ID's birth date must exist but may be any
/// date. Intake should use [`validate_on`].
pub fn validate(applicant: &Applicant) -> Result<(), ApplicantError> {
    check_applicant(applicant, None)
}

fn check_applicant(applicant: &Applicant, today: Option<Date>) -> Result<(), ApplicantError> {
    check_name(&applicant.name)?;
    match applicant.kind {
        ApplicantKind::Person => resident_id(&applicant.id, today),
        ApplicantKind::Org => check_credit_code(&applicant.id),
    }
}

fn check_name(name: &str) -> Result<(), ApplicantError> {
    if name.trim().is_empty() {
        return Err(ApplicantError::EmptyName);
    }
    let len = name.chars().count();
    if len > MAX_NAME_CHARS {
        return Err(ApplicantError::NameTooLong {
            len,
            max: MAX_NAME_CHARS,
        });
    }
    Ok(())
}

/// Checks a GB 11643 resident ID as [`check_resident_id`] does, and also that the birth date is
/// from 1900-01-01 to `today` inclusive.
pub fn check_resident_id_on(id: &str, today: Date) -> Result<(), ApplicantError> {
    resident_id(id, Some(today))
}

/// Checks a GB 11643 resident ID: not all zeros, 17 digits, then the ISO 7064 MOD 11-2 check
/// character (a digit or uppercase `X`), with a real birth date in positions 7-14. The birth date
/// may be any date; [`check_resident_id_on`] also bounds it by 1900 and today.
///
/// A lowercase `x` is refused rather than silently accepted, so that the stored ID is always in
/// the one form other systems match on.
pub fn check_resident_id(id: &str) -> Result<(), ApplicantError> {
    resident_id(id, None)
}

/// The resident-ID check; the birth date is bounded only when `today` is known.
fn resident_id(id: &str, today: Option<Date>) -> Result<(), ApplicantError> {
    let chars = exact_chars(id).ok_or_else(|| ApplicantError::ResidentIdLength {
        id: id.to_string(),
        len: id.chars().count(),
    })?;
    if chars.iter().all(|&c| c == '0') {
        return Err(ApplicantError::ResidentIdAllZero { id: id.to_string() });
    }
    if let Some(pos) = chars[..17].iter().position(|c| !c.is_ascii_digit()) {
        return Err(ApplicantError::ResidentIdNotDigit {
            id: id.to_string(),
            ch: chars[pos],
            pos: pos + 1,
        });
    }
    let found = chars[17];
    if found == 'x' {
        return Err(ApplicantError::ResidentIdLowercaseX { id: id.to_string() });
    }
    if !(found.is_ascii_digit() || found == 'X') {
        return Err(ApplicantError::ResidentIdBadCheckChar {
            id: id.to_string(),
            ch: found,
        });
    }
    // All 18 characters are ASCII from here on, so byte slicing is safe.
    let birth = check_birth_date(id)?;
    if let Some(today) = today {
        check_birth_range(id, birth, today)?;
    }
    let expected = resident_check_char(&id.as_bytes()[..17]);
    if found != expected {
        return Err(ApplicantError::ResidentIdCheck {
            id: id.to_string(),
            found,
            expected,
        });
    }
    Ok(())
}

/// The 18 characters of `s`, or `None` when it has another length.
fn exact_chars(s: &str) -> Option<[char; ID_LEN]> {
    let mut out = ['\0'; ID_LEN];
    let mut it = s.chars();
    for slot in out.iter_mut() {
        *slot = it.next()?;
    }
    it.next().is_none().then_some(out)
}

/// The birth date in positions 7-14 (`YYYYMMDD`), which must exist. `id` must be ASCII digits
/// there.
fn check_birth_date(id: &str) -> Result<Date, ApplicantError> {
    let birth = &id[6..14];
    let parse = |r: std::ops::Range<usize>| birth[r].parse::<u32>().ok();
    let date = match (parse(0..4), parse(4..6), parse(6..8)) {
        (Some(y), Some(m), Some(d)) => Date::from_ymd(y as i32, m, d),
        _ => None,
    };
    date.ok_or_else(|| ApplicantError::ResidentIdBirthDate {
        id: id.to_string(),
        birth: birth.to_string(),
    })
}

/// A birth date from 1900-01-01 to `today`, both included.
fn check_birth_range(id: &str, birth: Date, today: Date) -> Result<(), ApplicantError> {
    if birth.year() < EARLIEST_BIRTH_YEAR {
        return Err(ApplicantError::ResidentIdBornBefore1900 {
            id: id.to_string(),
            birth,
        });
    }
    if birth > today {
        return Err(ApplicantError::ResidentIdBornInFuture {
            id: id.to_string(),
            birth,
            today,
        });
    }
    Ok(())
}

/// MOD 11-2 check character of 17 ASCII digits.
fn resident_check_char(first17: &[u8]) -> char {
    let sum: u32 = first17
        .iter()
        .zip(RESIDENT_WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    char::from(RESIDENT_CHECK[(sum % 11) as usize])
}

/// The full resident ID for 17 leading digits, or `None` when `first17` is not 17 ASCII digits
/// or its birth date does not exist — so a `Some` always passes [`check_resident_id`] (and
/// [`check_resident_id_on`] when the birth date is from 1900 to today).
pub fn resident_id_with_check(first17: &str) -> Option<String> {
    let bytes = first17.as_bytes();
    if bytes.len() != 17 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let id = format!("{first17}{}", resident_check_char(bytes));
    check_birth_date(&id).ok()?;
    Some(id)
}

/// Checks a GB 32100 unified social credit code: 18 characters of the code's alphabet (digits
/// and capital letters except I, O, S, V, Z), not all zeros, a registration-authority /
/// organisation-type pair listed in [`CREDIT_AUTHORITIES`], six digits of region code in
/// positions 3-8, and the MOD 31 check character last.
pub fn check_credit_code(code: &str) -> Result<(), ApplicantError> {
    let chars = exact_chars(code).ok_or_else(|| ApplicantError::CreditCodeLength {
        code: code.to_string(),
        len: code.chars().count(),
    })?;
    if chars.iter().all(|&c| c == '0') {
        return Err(ApplicantError::CreditCodeAllZero {
            code: code.to_string(),
        });
    }
    let mut values = [0u32; ID_LEN];
    for (pos, (&ch, value)) in chars.iter().zip(values.iter_mut()).enumerate() {
        *value = credit_value(ch).ok_or_else(|| credit_char_error(code, ch, pos + 1))?;
    }
    check_authority_type(code, chars[0], chars[1])?;
    if let Some(i) = chars[2..8].iter().position(|c| !c.is_ascii_digit()) {
        return Err(ApplicantError::CreditCodeRegion {
            code: code.to_string(),
            region: chars[2..8].iter().collect(),
            ch: chars[2 + i],
            pos: 3 + i,
        });
    }
    let expected = credit_check_char(&values[..17]);
    let found = chars[17];
    if found != expected {
        return Err(ApplicantError::CreditCodeCheck {
            code: code.to_string(),
            found,
            expected,
        });
    }
    Ok(())
}

/// The registration authority `authority` must be in [`CREDIT_AUTHORITIES`] and define
/// `org_type`.
fn check_authority_type(code: &str, authority: char, org_type: char) -> Result<(), ApplicantError> {
    let Some(entry) = credit_authority(authority) else {
        return Err(ApplicantError::CreditCodeAuthority {
            code: code.to_string(),
            authority,
        });
    };
    if !entry.types.iter().any(|&(t, _)| t == org_type) {
        return Err(ApplicantError::CreditCodeOrgType {
            code: code.to_string(),
            authority,
            org_type,
        });
    }
    Ok(())
}

fn credit_authority(code: char) -> Option<&'static CreditAuthority> {
    CREDIT_AUTHORITIES.iter().find(|a| a.code == code)
}

/// The defined registration-authority codes, for messages: `1, 2, …, Y`.
fn authority_codes() -> String {
    let codes: Vec<String> = CREDIT_AUTHORITIES
        .iter()
        .map(|a| a.code.to_string())
        .collect();
    codes.join(", ")
}

/// The name of a registration authority, for messages.
fn authority_name(code: &char) -> &'static str {
    credit_authority(*code).map_or("undefined", |a| a.name)
}

/// The organisation types a registration authority defines, for messages: `1 企业, 2 个体工商户`.
fn authority_types(code: &char) -> String {
    let types: Vec<String> = credit_authority(*code)
        .map(|a| a.types)
        .unwrap_or_default()
        .iter()
        .map(|(t, name)| format!("{t} {name}"))
        .collect();
    types.join(", ")
}

/// Value of a credit-code character: its index in the GB 32100 alphabet.
fn credit_value(ch: char) -> Option<u32> {
    let b = u8::try_from(ch).ok()?;
    CREDIT_ALPHABET
        .iter()
        .position(|&a| a == b)
        .map(|i| i as u32)
}

/// A lowercase letter whose capital is allowed gets its own hint; anything else is not in the
/// alphabet at all.
fn credit_char_error(code: &str, ch: char, pos: usize) -> ApplicantError {
    let code = code.to_string();
    if ch.is_ascii_lowercase() && credit_value(ch.to_ascii_uppercase()).is_some() {
        ApplicantError::CreditCodeLowercase { code, ch, pos }
    } else {
        ApplicantError::CreditCodeBadChar { code, ch, pos }
    }
}

/// MOD 31 check character of 17 character values: `31 - sum mod 31`, where 31 stands for 0.
fn credit_check_char(values: &[u32]) -> char {
    let sum: u32 = values.iter().zip(CREDIT_WEIGHTS).map(|(v, w)| v * w).sum();
    let check = (31 - sum % 31) % 31;
    char::from(CREDIT_ALPHABET[check as usize])
}

/// The full credit code for its first 17 characters, or `None` when `first17` is not 17
/// characters of the GB 32100 alphabet or the code would be refused by [`check_credit_code`]
/// (an undefined authority/type pair, a region part that is not six digits, all zeros) — so a
/// `Some` always passes [`check_credit_code`].
pub fn credit_code_with_check(first17: &str) -> Option<String> {
    let values: Vec<u32> = first17.chars().map(credit_value).collect::<Option<_>>()?;
    if values.len() != 17 {
        return None;
    }
    let code = format!("{first17}{}", credit_check_char(&values));
    check_credit_code(&code).ok()?;
    Some(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn person(name: &str, id: &str) -> Applicant {
        Applicant {
            kind: ApplicantKind::Person,
            name: name.to_string(),
            id: id.to_string(),
        }
    }

    #[test]
    fn standard_resident_ids_pass() {
        // Both examples printed in GB 11643-1999.
        check_resident_id("11010519491231002X").unwrap();
        check_resident_id("440524188001010014").unwrap();
        assert_eq!(
            resident_id_with_check("11010519491231002").as_deref(),
            Some("11010519491231002X")
        );
    }

    #[test]
    fn resident_id_errors_say_what_is_wrong() {
        let msg = |id: &str| check_resident_id(id).unwrap_err().to_string();
        assert_eq!(
            msg("11010519491231002"),
            "resident ID 11010519491231002 has 17 characters, needs 18"
        );
        assert_eq!(
            msg("110105194912310025"),
            "resident ID 110105194912310025 check digit is 5, expected X"
        );
        assert!(msg("11010519491231002x").contains("uppercase 'X'"));
        assert!(msg("11010519491231002Y").contains("must be a digit or 'X'"));
        assert!(msg("1101051949123100AX").contains("'A' at position 17"));
        assert!(msg("11010519491231002X1").contains("19 characters"));
        assert!(msg("１1010519491231002X").contains("position 1"));
        // 1949-02-30 does not exist; the check digit is right for the digits given.
        let feb30 = format!(
            "11010519490230002{}",
            resident_check_char(b"11010519490230002")
        );
        assert!(
            msg(&feb30).contains("birth date 19490230"),
            "{}",
            msg(&feb30)
        );
        assert_eq!(resident_id_with_check("11010519490230002"), None);
        assert_eq!(resident_id_with_check("1101051949123100"), None);
        assert_eq!(resident_id_with_check("1101051949123100A"), None);
    }

    #[test]
    fn credit_codes() {
        for good in [
            "91350100M000100Y43",
            "91110000600037341L",
            "91440300708461136T",
        ] {
            check_credit_code(good).unwrap();
            assert_eq!(credit_code_with_check(&good[..17]).as_deref(), Some(good));
        }
        let msg = |c: &str| check_credit_code(c).unwrap_err().to_string();
        assert_eq!(
            msg("91350100M000100Y44"),
            "unified social credit code 91350100M000100Y44 check character is 4, expected 3"
        );
        assert_eq!(
            msg("91350100I000100Y43"),
            "unified social credit code 91350100I000100Y43 contains 'I' at position 9, \
             which GB 32100 does not use"
        );
        assert!(msg("91350100m000100Y43").contains("letters must be uppercase"));
        assert!(msg("91350100M000100Y4").contains("17 characters"));
        assert!(msg("9135010０M000100Y43").contains("position 8"));
        assert_eq!(credit_code_with_check("91350100M000100YO"), None);
        assert_eq!(credit_code_with_check("91350100M000100Y"), None);
    }

    #[test]
    fn validate_checks_name_and_kind() {
        validate(&person("张三", "11010519491231002X")).unwrap();
        assert_eq!(
            validate(&person("  ", "11010519491231002X")),
            Err(ApplicantError::EmptyName)
        );
        let long = "名".repeat(MAX_NAME_CHARS + 1);
        assert!(matches!(
            validate(&person(&long, "11010519491231002X")),
            Err(ApplicantError::NameTooLong { len: 201, .. })
        ));
        validate(&person(&"名".repeat(MAX_NAME_CHARS), "11010519491231002X")).unwrap();
        let org = Applicant {
            kind: ApplicantKind::Org,
            name: "某某有限公司".to_string(),
            id: "91350100M000100Y43".to_string(),
        };
        validate(&org).unwrap();
        // A resident ID is not a credit code, and vice versa.
        let swapped = Applicant {
            id: "11010519491231002X".to_string(),
            ..org
        };
        assert!(validate(&swapped).is_err());
        assert!(validate(&person("张三", "91350100M000100Y43")).is_err());
    }

    fn first17_resident() -> impl Strategy<Value = String> {
        let birth = (1900i32..2100, 1u32..=12, 1u32..=31)
            .prop_filter("real date", |&(y, m, d)| Date::from_ymd(y, m, d).is_some());
        ("[1-8][0-9]{5}", birth, "[0-9]{3}")
            .prop_map(|(area, (y, m, d), seq)| format!("{area}{y:04}{m:02}{d:02}{seq}"))
    }

    /// Every registration-authority / organisation-type pair the table defines.
    fn defined_pairs() -> Vec<(char, char)> {
        CREDIT_AUTHORITIES
            .iter()
            .flat_map(|a| a.types.iter().map(move |&(t, _)| (a.code, t)))
            .collect()
    }

    /// 17 characters of the GB 32100 alphabet, any of them at any position.
    fn any_first17_credit() -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(CREDIT_ALPHABET.to_vec()), 17)
            .prop_map(|v| v.into_iter().map(char::from).collect())
    }

    /// 17 leading characters of a credit code that passes the structure rules: a defined pair,
    /// six digits of region, then any nine characters of the alphabet.
    fn first17_credit() -> impl Strategy<Value = String> {
        (
            proptest::sample::select(defined_pairs()),
            "[0-9]{6}",
            proptest::collection::vec(proptest::sample::select(CREDIT_ALPHABET.to_vec()), 9),
        )
            .prop_map(|((a, t), region, rest)| {
                let rest: String = rest.into_iter().map(char::from).collect();
                format!("{a}{t}{region}{rest}")
            })
    }

    /// Every id obtained from `id` by replacing one character with another allowed at that place.
    fn substitutions(id: &str, allowed: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        for pos in 0..id.len() {
            for &b in allowed {
                if id.as_bytes()[pos] != b {
                    let mut v = id.as_bytes().to_vec();
                    v[pos] = b;
                    out.push(String::from_utf8(v).unwrap());
                }
            }
        }
        out
    }

    proptest! {
        #[test]
        fn made_resident_ids_validate_and_catch_every_substitution(first17 in first17_resident()) {
            let id = resident_id_with_check(&first17).unwrap();
            prop_assert_eq!(check_resident_id(&id), Ok(()));
            for bad in substitutions(&id, b"0123456789X") {
                prop_assert!(check_resident_id(&bad).is_err(), "{} accepted", bad);
            }
        }

        #[test]
        fn made_credit_codes_validate_and_catch_every_substitution(first17 in first17_credit()) {
            let code = credit_code_with_check(&first17).unwrap();
            prop_assert_eq!(check_credit_code(&code), Ok(()));
            for bad in substitutions(&code, CREDIT_ALPHABET) {
                prop_assert!(check_credit_code(&bad).is_err(), "{} accepted", bad);
            }
        }

        /// The check character is right for any 17 characters of the alphabet: a code made from
        /// them is accepted, or refused only for its structure, never for its check character.
        #[test]
        fn made_check_characters_are_right_for_any_characters(first17 in any_first17_credit()) {
            let code = with_check(&first17);
            let result = check_credit_code(&code);
            prop_assert!(
                matches!(
                    result,
                    Ok(())
                        | Err(ApplicantError::CreditCodeAllZero { .. })
                        | Err(ApplicantError::CreditCodeAuthority { .. })
                        | Err(ApplicantError::CreditCodeOrgType { .. })
                        | Err(ApplicantError::CreditCodeRegion { .. })
                ),
                "{}: {:?}", code, result
            );
            prop_assert_eq!(credit_code_with_check(&first17).is_some(), result.is_ok());
        }

        /// With today's date, a birth date from 1900-01-01 to today is accepted and any other is
        /// refused for its range, never for anything else.
        #[test]
        fn birth_range_against_today(first17 in first17_resident(), today_days in -25_567i32..47_482) {
            let today = Date::from_ymd(1970, 1, 1).unwrap().add_days(today_days);
            let id = resident_id_with_check(&first17).unwrap();
            let birth = check_birth_date(&id).unwrap();
            match check_resident_id_on(&id, today) {
                Ok(()) => prop_assert!(birth.year() >= 1900 && birth <= today),
                Err(ApplicantError::ResidentIdBornInFuture { birth: b, today: t, .. }) => {
                    prop_assert!(b == birth && t == today && birth > today);
                }
                Err(e) => prop_assert!(false, "{} refused: {}", id, e),
            }
        }

        #[test]
        fn checks_never_panic(s in "\\PC{0,20}|[0-9Xx]{16,19}") {
            let _ = check_resident_id(&s);
            let _ = check_resident_id_on(&s, Date::from_ymd(2025, 10, 1).unwrap());
            let _ = check_credit_code(&s);
            let _ = resident_id_with_check(&s);
            let _ = credit_code_with_check(&s);
        }
    }

    /// Exhaustive over the mathematics rather than sampled: for every position, the weight is
    /// invertible modulo the scheme's prime and every difference of two character values is
    /// non-zero modulo it, so no single substitution keeps the sum.
    #[test]
    fn schemes_detect_all_single_substitutions() {
        for w in RESIDENT_WEIGHTS {
            for delta in 1..=9u32 {
                assert_ne!(w * delta % 11, 0);
            }
        }
        for w in CREDIT_WEIGHTS {
            for delta in 1..=30u32 {
                assert_ne!(w * delta % 31, 0);
            }
        }
        // The check character itself is a function of the sum, so changing only it always fails.
    }

    fn day(s: &str) -> Date {
        s.parse().unwrap()
    }

    /// A resident ID born on `birth` (`YYYYMMDD`) with a right check digit.
    fn born(birth: &str) -> String {
        let first17 = format!("350322{birth}123");
        format!("{first17}{}", resident_check_char(first17.as_bytes()))
    }

    /// A credit code for `first17` with a right check character, whatever its structure.
    fn with_check(first17: &str) -> String {
        let values: Vec<u32> = first17.chars().map(|c| credit_value(c).unwrap()).collect();
        format!("{first17}{}", credit_check_char(&values))
    }

    #[test]
    fn birth_date_from_1900_to_today() {
        let today = day("2025-10-01");
        let on = |id: &str| check_resident_id_on(id, today);
        on(&born("19000101")).unwrap();
        on(&born("20251001")).unwrap();
        on("11010519491231002X").unwrap();
        assert_eq!(
            on(&born("18991231")),
            Err(ApplicantError::ResidentIdBornBefore1900 {
                id: born("18991231"),
                birth: day("1899-12-31"),
            })
        );
        assert_eq!(
            on(&born("20251002")),
            Err(ApplicantError::ResidentIdBornInFuture {
                id: born("20251002"),
                birth: day("2025-10-02"),
                today,
            })
        );
        assert_eq!(
            on(&born("18991231")).unwrap_err().to_string(),
            format!(
                "resident ID {} gives birth date 1899-12-31 (positions 7-14), before 1900-01-01; \
                 birth dates before 1900 are not accepted",
                born("18991231")
            )
        );
        assert_eq!(
            on(&born("20251002")).unwrap_err().to_string(),
            format!(
                "resident ID {} gives birth date 2025-10-02 (positions 7-14), after today \
                 (2025-10-01); a birth date cannot be in the future",
                born("20251002")
            )
        );
        // The GB 11643 example born in 1880 has the right check digit but is refused by date.
        check_resident_id("440524188001010014").unwrap();
        assert!(matches!(
            on("440524188001010014"),
            Err(ApplicantError::ResidentIdBornBefore1900 { .. })
        ));
        // A birth date that does not exist is still refused as such, before its range.
        let feb30 = born("20990230");
        assert!(matches!(
            on(&feb30),
            Err(ApplicantError::ResidentIdBirthDate { .. })
        ));
        // A wrong check digit on an in-range birth date is still a check-digit error.
        let mut wrong = born("19900101");
        let last = if wrong.ends_with('0') { '1' } else { '0' };
        wrong.replace_range(17.., &last.to_string());
        assert!(matches!(
            on(&wrong),
            Err(ApplicantError::ResidentIdCheck { .. })
        ));
        // Without today's date only the existence of the birth date is checked, as before.
        check_resident_id(&born("18991231")).unwrap();
        check_resident_id(&born("20251002")).unwrap();
    }

    #[test]
    fn validate_on_bounds_the_birth_date() {
        let today = day("2025-10-01");
        validate_on(&person("张三", &born("20251001")), today).unwrap();
        assert!(matches!(
            validate_on(&person("张三", &born("20251002")), today),
            Err(ApplicantError::ResidentIdBornInFuture { .. })
        ));
        assert!(matches!(
            validate_on(&person("张三", &born("18991231")), today),
            Err(ApplicantError::ResidentIdBornBefore1900 { .. })
        ));
        assert_eq!(
            validate_on(&person("", &born("20251002")), today),
            Err(ApplicantError::EmptyName)
        );
        validate(&person("张三", &born("20251002"))).unwrap();
        let org = Applicant {
            kind: ApplicantKind::Org,
            name: "某某有限公司".to_string(),
            id: "91350100M000100Y43".to_string(),
        };
        validate_on(&org, today).unwrap();
    }

    #[test]
    fn all_zero_codes_are_refused_by_name() {
        let zeros = "000000000000000000";
        let today = day("2025-10-01");
        for result in [check_resident_id(zeros), check_resident_id_on(zeros, today)] {
            assert_eq!(
                result.unwrap_err().to_string(),
                "resident ID 000000000000000000 is all zeros, a placeholder rather than a real ID \
                 (公民身份号码)"
            );
        }
        // All zeros has a right GB 32100 check character ('0'), so only this rule refuses it.
        assert_eq!(with_check(&zeros[..17]), zeros);
        assert_eq!(
            check_credit_code(zeros).unwrap_err().to_string(),
            "unified social credit code 000000000000000000 is all zeros, a placeholder rather \
             than a real code (统一社会信用代码)"
        );
        assert_eq!(credit_code_with_check(&zeros[..17]), None);
        let person_zeros = person("张三", zeros);
        assert!(matches!(
            validate_on(&person_zeros, today),
            Err(ApplicantError::ResidentIdAllZero { .. })
        ));
        // Zeros with anything else is not this rule.
        assert!(!matches!(
            check_resident_id("000000000000000001"),
            Err(ApplicantError::ResidentIdAllZero { .. })
        ));
        assert!(!matches!(
            check_credit_code("000000000000000001"),
            Err(ApplicantError::CreditCodeAllZero { .. })
        ));
    }

    #[test]
    fn every_defined_pair_is_accepted() {
        let mut pairs = 0;
        for a in CREDIT_AUTHORITIES {
            for &(t, _) in a.types {
                let first17 = format!("{}{}350322MA2XN0001", a.code, t);
                let code = with_check(&first17);
                assert_eq!(check_credit_code(&code), Ok(()), "{code}");
                assert_eq!(credit_code_with_check(&first17), Some(code));
                pairs += 1;
            }
        }
        assert_eq!(pairs, 36);
        // Each authority once, each type once within it.
        for (i, a) in CREDIT_AUTHORITIES.iter().enumerate() {
            assert!(credit_value(a.code).is_some());
            assert!(CREDIT_AUTHORITIES[..i].iter().all(|b| b.code != a.code));
            for (j, &(t, _)) in a.types.iter().enumerate() {
                assert!(credit_value(t).is_some());
                assert!(a.types[..j].iter().all(|&(u, _)| u != t));
            }
        }
    }

    #[test]
    fn every_undefined_pair_is_refused() {
        let mut refused = 0;
        for &ca in CREDIT_ALPHABET {
            for &ct in CREDIT_ALPHABET {
                let (a, t) = (char::from(ca), char::from(ct));
                let code = with_check(&format!("{a}{t}350322MA2XN0001"));
                let result = check_credit_code(&code);
                match credit_authority(a) {
                    None => assert_eq!(
                        result,
                        Err(ApplicantError::CreditCodeAuthority {
                            code: code.clone(),
                            authority: a,
                        })
                    ),
                    Some(entry) if !entry.types.iter().any(|&(u, _)| u == t) => assert_eq!(
                        result,
                        Err(ApplicantError::CreditCodeOrgType {
                            code: code.clone(),
                            authority: a,
                            org_type: t,
                        })
                    ),
                    Some(_) => {
                        assert_eq!(result, Ok(()));
                        continue;
                    }
                }
                refused += 1;
            }
        }
        assert_eq!(refused, 31 * 31 - 36);
    }

    #[test]
    fn undefined_pairs_say_which_rule() {
        let msg = |first17: &str| {
            check_credit_code(&with_check(first17))
                .unwrap_err()
                .to_string()
        };
        let code = with_check("01350322MA2XN0001");
        assert_eq!(
            msg("01350322MA2XN0001"),
            format!(
                "unified social credit code {code} starts with '0', which is not a \
                 registration-authority code (登记管理部门码); position 1 must be one of \
                 1, 2, 3, 4, 5, 6, 7, 8, 9, A, N, Y"
            )
        );
        let code = with_check("94350322MA2XN0001");
        assert_eq!(
            msg("94350322MA2XN0001"),
            format!(
                "unified social credit code {code} has organisation type '4' at position 2, \
                 which registration authority 9 (工商) does not define (机构类别码); \
                 it defines 1 企业, 2 个体工商户, 3 农民专业合作社"
            )
        );
        assert!(msg("Y2350322MA2XN0001").contains("authority Y (其他)"));
        assert!(msg("Y2350322MA2XN0001").contains("it defines 1 其他"));
        assert!(msg("99350322MA2XN0001").contains("organisation type '9'"));
        assert!(msg("B1350322MA2XN0001").contains("starts with 'B'"));
        // The structure is checked before the check character, so a wrong check character
        // on an undefined pair names the pair.
        assert!(matches!(
            check_credit_code("04350322MA2XN00010"),
            Err(ApplicantError::CreditCodeAuthority { .. })
        ));
    }

    #[test]
    fn region_code_must_be_six_digits() {
        for (first17, region, ch, pos) in [
            ("91A50322MA2XN0001", "A50322", 'A', 3),
            ("913503M2MA2XN0001", "3503M2", 'M', 7),
            ("9135032YMA2XN0001", "35032Y", 'Y', 8),
        ] {
            let code = with_check(first17);
            assert_eq!(
                check_credit_code(&code),
                Err(ApplicantError::CreditCodeRegion {
                    code: code.clone(),
                    region: region.to_string(),
                    ch,
                    pos,
                })
            );
            assert_eq!(credit_code_with_check(first17), None);
        }
        let code = with_check("91A50322MA2XN0001");
        assert_eq!(
            check_credit_code(&code).unwrap_err().to_string(),
            format!(
                "unified social credit code {code} has A50322 in positions 3-8, with 'A' at \
                 position 3; the registering authority's region code (登记管理机关行政区划码) \
                 must be six digits"
            )
        );
        // Six digits, whatever they are, pass: the code list itself is not checked.
        check_credit_code(&with_check("91000000MA2XN0001")).unwrap();
        check_credit_code(&with_check("91999999MA2XN0001")).unwrap();
        // Position 9 onwards may be letters.
        check_credit_code(&with_check("91350322MA2XN0001")).unwrap();
    }

    #[test]
    fn fixtures_elsewhere_still_pass() {
        let today = day("2025-01-01");
        // tests/support, node/src/bench, node/src/demo, federation-proto/src/fixtures.rs, README.
        for first17 in [
            "35032219900307000",
            "35032219900307999",
            "35032219900101000",
            "35030219800101123",
            "35030219920615234",
            "35030219750808345",
            "35032219650312456",
        ] {
            let id = resident_id_with_check(first17).unwrap();
            check_resident_id_on(&id, today).unwrap();
        }
        for first17 in [
            "91350322150000000",
            "91350322159999999",
            "91350302MA2XN0001",
            "91350302MA2XN0007",
            "93350322MA2XN0005",
            "91350322MA2XN0002",
        ] {
            assert!(credit_code_with_check(first17).is_some(), "{first17}");
        }
        check_credit_code("91350322MA2XN0001F").unwrap();
    }
}
