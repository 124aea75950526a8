//! Intake checks on the applicant's identity: the check characters of resident IDs
//! (公民身份号码, GB 11643-1999) and unified social credit codes (统一社会信用代码, GB 32100-2015).
//!
//! Both schemes detect every single-character substitution, so a typo at the window is caught
//! before the case is accepted instead of surfacing days later at a department that cannot find
//! the applicant.
//!
//! Only the structure defined by the standards is checked. Whether the ID exists, the
//! registration-authority and division parts of a credit code, and the GB 11714 organisation code
//! embedded in it are left to the departments' own systems: checking them here would reject codes
//! that predate the current code lists.

use crate::date::Date;
use crate::event::{Applicant, ApplicantKind};

/// Longest applicant name accepted, in characters (long organisation names run to ~60).
pub const MAX_NAME_CHARS: usize = 200;

/// Number of characters in both a resident ID and a credit code.
const ID_LEN: usize = 18;

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

/// Why an applicant's identity was refused at intake. Messages name the value and say exactly
/// what is wrong, because they are shown to the window clerk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplicantError {
    #[error("resident ID {id} has {len} characters, needs 18")]
    ResidentIdLength { id: String, len: usize },
    #[error("resident ID {id} has {ch:?} at position {pos}; positions 1-17 must be digits")]
    ResidentIdNotDigit { id: String, ch: char, pos: usize },
    #[error("resident ID {id} ends in lowercase 'x'; write the check character as uppercase 'X'")]
    ResidentIdLowercaseX { id: String },
    #[error("resident ID {id} ends in {ch:?}; the check character must be a digit or 'X'")]
    ResidentIdBadCheckChar { id: String, ch: char },
    #[error("resident ID {id} contains birth date {birth}, which is not a real date (YYYYMMDD)")]
    ResidentIdBirthDate { id: String, birth: String },
    #[error("resident ID {id} check digit is {found}, expected {expected}")]
    ResidentIdCheck {
        id: String,
        found: char,
        expected: char,
    },
    #[error("unified social credit code {code} has {len} characters, needs 18")]
    CreditCodeLength { code: String, len: usize },
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

/// Checks an applicant at intake: a non-blank name of bounded length, and an ID valid for its
/// kind (resident ID for a person, credit code for an organisation).
pub fn validate(applicant: &Applicant) -> Result<(), ApplicantError> {
    check_name(&applicant.name)?;
    match applicant.kind {
        ApplicantKind::Person => check_resident_id(&applicant.id),
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

/// Checks a GB 11643 resident ID: 17 digits, then the ISO 7064 MOD 11-2 check character (a digit
/// or uppercase `X`), with a real birth date in positions 7-14.
///
/// A lowercase `x` is refused rather than silently accepted, so that the stored ID is always in
/// the one form other systems match on.
pub fn check_resident_id(id: &str) -> Result<(), ApplicantError> {
    let chars = exact_chars(id).ok_or_else(|| ApplicantError::ResidentIdLength {
        id: id.to_string(),
        len: id.chars().count(),
    })?;
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
    check_birth_date(id)?;
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

/// The birth date in positions 7-14 (`YYYYMMDD`) must exist. `id` must be ASCII digits there.
fn check_birth_date(id: &str) -> Result<(), ApplicantError> {
    let birth = &id[6..14];
    let parse = |r: std::ops::Range<usize>| birth[r].parse::<u32>().ok();
    let date = match (parse(0..4), parse(4..6), parse(6..8)) {
        (Some(y), Some(m), Some(d)) => Date::from_ymd(y as i32, m, d),
        _ => None,
    };
    match date {
        Some(_) => Ok(()),
        None => Err(ApplicantError::ResidentIdBirthDate {
            id: id.to_string(),
            birth: birth.to_string(),
        }),
    }
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
/// or its birth date does not exist — so a `Some` always passes [`check_resident_id`].
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
/// and capital letters except I, O, S, V, Z), the last being the MOD 31 check character.
pub fn check_credit_code(code: &str) -> Result<(), ApplicantError> {
    let chars = exact_chars(code).ok_or_else(|| ApplicantError::CreditCodeLength {
        code: code.to_string(),
        len: code.chars().count(),
    })?;
    let mut values = [0u32; ID_LEN];
    for (pos, (&ch, value)) in chars.iter().zip(values.iter_mut()).enumerate() {
        *value = credit_value(ch).ok_or_else(|| credit_char_error(code, ch, pos + 1))?;
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
/// characters of the GB 32100 alphabet.
pub fn credit_code_with_check(first17: &str) -> Option<String> {
    let values: Vec<u32> = first17.chars().map(credit_value).collect::<Option<_>>()?;
    if values.len() != 17 {
        return None;
    }
    Some(format!("{first17}{}", credit_check_char(&values)))
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

    fn first17_credit() -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(CREDIT_ALPHABET.to_vec()), 17)
            .prop_map(|v| v.into_iter().map(char::from).collect())
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

        #[test]
        fn checks_never_panic(s in "\\PC{0,20}|[0-9Xx]{16,19}") {
            let _ = check_resident_id(&s);
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
}
