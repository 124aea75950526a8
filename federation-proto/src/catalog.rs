//! The item catalog (事项目录): the services a center offers and the rules each one is handled by.
//!
//! An item (事项) is a catalogued service such as "建筑工程施工许可证核发". Every application (办件)
//! is for one item, and the item fixes how the case runs:
//!
//! - who decides it: a department at a level (`deciding_level`), possibly above the window that
//!   accepts it (跨层级受理);
//! - how: immediately at the window (即办件), within a promised limit (承诺件), jointly with other
//!   departments (联办件, who take part is `participants`), or pre-reviewed below and decided
//!   above (上报件, with the lower level's 初审 limit `first_review_days`, 行政许可法 art. 43);
//! - how long: the legal limit (法定时限) and the shorter promised limit (承诺时限), both in
//!   working days;
//! - which materials: core materials must all be present before a case is accepted; non-core
//!   ones may be owed under 容缺受理 when the item allows it (`tolerant`).
//!
//! The binary ships a sample catalog (`data/catalog.toml`); a node may load its own file in the
//! same format, one `[[items]]` table per item. The catalog is validated as a whole on load so
//! that a bad file is refused with the offending item's code, never half-used.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::{ItemKind, Level};
use serde::{Deserialize, Serialize};

/// The sample catalog compiled into the binary.
const BUILTIN: &str = include_str!("../data/catalog.toml");

/// One catalogued service. Serialised as is for `GET /api/v1/catalog`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// 事项编码.
    pub code: String,
    pub name: String,
    /// The deciding department, e.g. "住房和城乡建设局".
    pub department: String,
    /// GB/T 39046 A.1 事项类型, two digits: "01" 行政许可, "20" 公共服务, …
    pub matter_type: String,
    pub deciding_level: Level,
    pub kind: ItemKind,
    /// 法定时限, working days.
    pub legal_days: u16,
    /// 承诺时限, working days; 0 for immediate items.
    pub promised_days: u16,
    pub materials: Vec<Material>,
    #[serde(default)]
    pub fee_fen: u64,
    /// 容缺受理 allowed: non-core materials may be owed until the decision.
    #[serde(default)]
    pub tolerant: bool,
    /// Joint items only: the departments that take part (抄告相关).
    #[serde(default)]
    pub participants: Vec<ParticipantSpec>,
    /// Report-up items only: the lower level's pre-review (初审) limit in working days.
    #[serde(default)]
    pub first_review_days: Option<u16>,
    /// 网上签批: a decision on this item takes effect only as the `decide` of someone who may
    /// sign off for the department — its 首席代表 (role `chief`) or an admin; a reviewer records
    /// the decision they propose (`propose`, 拟办意见) for them. Checked where the decision is
    /// made (the owner's API), like every operator's right.
    #[serde(default)]
    pub sign_off: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Material {
    pub name: String,
    /// A core material can never be owed: without it the case is not accepted.
    pub core: bool,
}

/// A participant of a joint item, named by level and department; the node is resolved when the
/// joint review is opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParticipantSpec {
    pub level: Level,
    pub department: String,
}

/// Which catalogued materials an application lacks, in catalog order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaterialCheck {
    pub missing_core: Vec<String>,
    pub missing_noncore: Vec<String>,
}

impl MaterialCheck {
    /// Nothing at all is missing.
    pub fn is_complete(&self) -> bool {
        self.missing_core.is_empty() && self.missing_noncore.is_empty()
    }
}

impl Item {
    /// Compares the materials handed in with the catalog. Names are matched exactly (surrounding
    /// spaces aside); materials the catalog does not list are ignored.
    pub fn check_materials(&self, given: &[String]) -> MaterialCheck {
        let has = |name: &str| given.iter().any(|g| g.trim() == name.trim());
        let mut check = MaterialCheck::default();
        for material in self.materials.iter().filter(|m| !has(&m.name)) {
            let list = if material.core {
                &mut check.missing_core
            } else {
                &mut check.missing_noncore
            };
            list.push(material.name.clone());
        }
        check
    }

    fn validate(&self) -> Result<(), CatalogError> {
        self.check_text()?;
        self.check_limits()?;
        self.check_kind()?;
        self.check_material_names()
    }

    fn check_text(&self) -> Result<(), CatalogError> {
        let empty = |field| CatalogError::EmptyField {
            code: self.code.clone(),
            field,
        };
        if self.name.trim().is_empty() {
            return Err(empty("name"));
        }
        if self.department.trim().is_empty() {
            return Err(empty("department"));
        }
        if self.materials.is_empty() {
            return Err(empty("materials"));
        }
        if self
            .participants
            .iter()
            .any(|p| p.department.trim().is_empty())
        {
            return Err(empty("participant department"));
        }
        let two_digits =
            self.matter_type.len() == 2 && self.matter_type.bytes().all(|b| b.is_ascii_digit());
        if !two_digits {
            return Err(CatalogError::MatterType {
                code: self.code.clone(),
                value: self.matter_type.clone(),
            });
        }
        Ok(())
    }

    fn check_limits(&self) -> Result<(), CatalogError> {
        let code = self.code.clone();
        if self.promised_days > self.legal_days {
            return Err(CatalogError::PromisedOverLegal {
                code,
                promised: self.promised_days,
                legal: self.legal_days,
            });
        }
        match (self.kind, self.promised_days) {
            (ItemKind::Immediate, 0) => Ok(()),
            (ItemKind::Immediate, promised) => {
                Err(CatalogError::ImmediateWithDays { code, promised })
            }
            (kind, 0) => Err(CatalogError::NoPromisedDays {
                code,
                kind: kind_name(kind),
            }),
            _ => Ok(()),
        }
    }

    fn check_kind(&self) -> Result<(), CatalogError> {
        let code = self.code.clone();
        let joint = self.kind == ItemKind::Joint;
        if joint && self.participants.is_empty() {
            return Err(CatalogError::JointWithoutParticipants { code });
        }
        if !joint && !self.participants.is_empty() {
            return Err(CatalogError::ParticipantsNotJoint { code });
        }
        if self.kind != ItemKind::ReportUp {
            return match self.first_review_days {
                Some(_) => Err(CatalogError::FirstReviewNotReportUp { code }),
                None => Ok(()),
            };
        }
        if matches!(self.first_review_days, None | Some(0)) {
            return Err(CatalogError::ReportUpWithoutFirstReview { code });
        }
        // Decided above the level that pre-reviews it, so never at a township or village.
        if self.deciding_level > Level::County {
            return Err(CatalogError::ReportUpLevel {
                code,
                level: self.deciding_level.as_str(),
            });
        }
        Ok(())
    }

    fn check_material_names(&self) -> Result<(), CatalogError> {
        let mut seen = std::collections::HashSet::new();
        for material in &self.materials {
            let name = material.name.trim();
            if name.is_empty() {
                return Err(CatalogError::EmptyField {
                    code: self.code.clone(),
                    field: "material name",
                });
            }
            if !seen.insert(name) {
                return Err(CatalogError::DuplicateMaterial {
                    code: self.code.clone(),
                    material: name.to_string(),
                });
            }
        }
        Ok(())
    }
}

fn kind_name(kind: ItemKind) -> &'static str {
    match kind {
        ItemKind::Immediate => "immediate (即办件)",
        ItemKind::Promised => "promised (承诺件)",
        ItemKind::Joint => "joint (联办件)",
        ItemKind::ReportUp => "report_up (上报件)",
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read catalog file {}: {error}", .path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("catalog file {}: {error}", .path.display())]
    InFile {
        path: PathBuf,
        error: Box<CatalogError>,
    },
    #[error("catalog is not valid: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("the catalog defines no items")]
    NoItems,
    /// The catalog built into the binary does not parse (the tests check it does).
    #[error("the built-in catalog is not valid: {0}")]
    Builtin(String),
    #[error("item number {index} in the catalog has an empty code")]
    EmptyCode { index: usize },
    #[error("item code {code} appears more than once in the catalog")]
    DuplicateCode { code: String },
    #[error("item {code}: {field} must not be empty")]
    EmptyField { code: String, field: &'static str },
    #[error(
        "item {code}: matter_type {value:?} must be two digits (GB/T 39046 A.1, e.g. \"01\" \
         行政许可, \"20\" 公共服务)"
    )]
    MatterType { code: String, value: String },
    #[error(
        "item {code}: promised_days {promised} exceeds legal_days {legal}; the promised limit \
         (承诺时限) may only shorten the legal limit (法定时限)"
    )]
    PromisedOverLegal {
        code: String,
        promised: u16,
        legal: u16,
    },
    #[error(
        "item {code}: an immediate item (即办件) is decided the same day, so promised_days must be \
         0, not {promised}"
    )]
    ImmediateWithDays { code: String, promised: u16 },
    #[error(
        "item {code}: a {kind} item needs promised_days of at least 1; an item decided the same \
         day is kind = \"immediate\""
    )]
    NoPromisedDays { code: String, kind: &'static str },
    #[error("item {code}: a joint item (联办件) needs at least one participant")]
    JointWithoutParticipants { code: String },
    #[error("item {code}: only joint items (kind = \"joint\") have participants")]
    ParticipantsNotJoint { code: String },
    #[error(
        "item {code}: a report-up item (上报件) needs first_review_days of at least 1, the lower \
         level's 初审 limit (行政许可法 art. 43: 20)"
    )]
    ReportUpWithoutFirstReview { code: String },
    #[error("item {code}: only report-up items (kind = \"report_up\") have first_review_days")]
    FirstReviewNotReportUp { code: String },
    #[error(
        "item {code}: a report-up item (上报件) is decided above the level that pre-reviews it, so \
         deciding_level must be county or above, not {level}"
    )]
    ReportUpLevel { code: String, level: &'static str },
    #[error("item {code}: material {material:?} is listed twice")]
    DuplicateMaterial { code: String, material: String },
}

/// The validated items of a node, in file order, with a lookup by code. Serialises as
/// `{"items": [...]}`, the answer of `GET /api/v1/catalog`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Catalog {
    items: Vec<Item>,
    #[serde(skip)]
    by_code: HashMap<String, usize>,
}

/// The file: `[[items]]` tables.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    items: Vec<Item>,
}

impl Catalog {
    /// The sample catalog built into the binary, parsed once per process (every node without
    /// a catalog of its own or from its parent starts from it).
    pub fn builtin() -> Result<Catalog, CatalogError> {
        static BUILT_IN: std::sync::OnceLock<Result<Catalog, String>> = std::sync::OnceLock::new();
        BUILT_IN
            .get_or_init(|| Catalog::from_toml(BUILTIN).map_err(|e| e.to_string()))
            .clone()
            .map_err(CatalogError::Builtin)
    }

    pub fn from_toml(text: &str) -> Result<Catalog, CatalogError> {
        let file: CatalogFile = toml::from_str(text)?;
        Catalog::from_items(file.items)
    }

    /// Reads a catalog file; errors name the file.
    pub fn load(path: &Path) -> Result<Catalog, CatalogError> {
        let text = std::fs::read_to_string(path).map_err(|error| CatalogError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        Catalog::from_toml(&text).map_err(|error| CatalogError::InFile {
            path: path.to_path_buf(),
            error: Box::new(error),
        })
    }

    /// Validates items from any source (a file, or a catalog broadcast down the tree).
    pub fn from_items(items: Vec<Item>) -> Result<Catalog, CatalogError> {
        if items.is_empty() {
            return Err(CatalogError::NoItems);
        }
        let mut by_code = HashMap::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            if item.code.trim().is_empty() {
                return Err(CatalogError::EmptyCode { index: index + 1 });
            }
            if by_code.insert(item.code.clone(), index).is_some() {
                return Err(CatalogError::DuplicateCode {
                    code: item.code.clone(),
                });
            }
            item.validate()?;
        }
        Ok(Catalog { items, by_code })
    }

    pub fn get(&self, code: &str) -> Option<&Item> {
        self.by_code.get(code).map(|&i| &self.items[i])
    }

    pub fn items(&self) -> &[Item] {
        &self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const ONE: &str = r#"
[[items]]
code = "X1"
name = "测试事项"
department = "测试局"
matter_type = "01"
deciding_level = "county"
kind = "promised"
legal_days = 20
promised_days = 5
materials = [
  { name = "申请表", core = true },
  { name = "营业执照", core = true },
  { name = "授权委托书", core = false },
  { name = "平面图", core = false },
]
"#;

    /// The one-item catalog with `old` replaced by `new` (which must occur).
    fn with(old: &str, new: &str) -> Result<Catalog, CatalogError> {
        assert!(ONE.contains(old), "{old}");
        Catalog::from_toml(&ONE.replacen(old, new, 1))
    }

    fn err(old: &str, new: &str) -> CatalogError {
        with(old, new).unwrap_err()
    }

    #[test]
    fn builtin_catalog_is_rich_enough() {
        let catalog = Catalog::builtin().unwrap();
        let items = catalog.items();
        assert!(items.len() >= 15, "{}", items.len());
        let count = |k| items.iter().filter(|i| i.kind == k).count();
        assert!(count(ItemKind::Immediate) >= 3);
        assert!(count(ItemKind::Promised) >= 8);
        assert!(count(ItemKind::Joint) >= 2);
        assert!(count(ItemKind::ReportUp) >= 2);
        let departments: HashSet<_> = items.iter().map(|i| i.department.as_str()).collect();
        assert!(departments.len() >= 5, "{departments:?}");
        let levels: HashSet<_> = items.iter().map(|i| i.deciding_level).collect();
        assert_eq!(levels.len(), 3); // city, county, township
        assert!(items.iter().any(|i| i.fee_fen > 0));

        let permit = catalog.get("000172005000").unwrap();
        assert_eq!(permit.name, "建筑工程施工许可证核发");
        assert_eq!((permit.legal_days, permit.promised_days), (15, 3));
        assert!(catalog.get("no-such-item").is_none());
    }

    #[test]
    fn serialises_as_the_api_answer() {
        let catalog = Catalog::from_toml(ONE).unwrap();
        let json = serde_json::to_value(&catalog).unwrap();
        let item = &json["items"][0];
        assert_eq!(item["deciding_level"], "county");
        assert_eq!(item["kind"], "promised");
        assert_eq!(item["materials"][2]["core"], false);
        assert_eq!(item["fee_fen"], 0);
        // And an item read back from the API is the same item.
        let back: Item = serde_json::from_value(item.clone()).unwrap();
        assert_eq!(&back, &catalog.items()[0]);
    }

    #[test]
    fn check_materials_lists_what_is_missing_in_catalog_order() {
        let catalog = Catalog::from_toml(ONE).unwrap();
        let item = catalog.get("X1").unwrap();
        let given = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let check = item.check_materials(&given(&["营业执照", " 平面图 ", "其他材料"]));
        assert_eq!(check.missing_core, vec!["申请表"]);
        assert_eq!(check.missing_noncore, vec!["授权委托书"]);
        assert!(!check.is_complete());
        let check = item.check_materials(&[]);
        assert_eq!(check.missing_core, vec!["申请表", "营业执照"]);
        assert_eq!(check.missing_noncore, vec!["授权委托书", "平面图"]);
        let all = given(&["平面图", "授权委托书", "营业执照", "申请表"]);
        assert!(item.check_materials(&all).is_complete());
    }

    #[test]
    fn rejects_bad_catalogs() {
        use CatalogError as E;
        assert!(matches!(Catalog::from_toml("items = []"), Err(E::NoItems)));
        assert!(matches!(Catalog::from_toml("[[items]\n"), Err(E::Toml(_))));
        assert!(matches!(
            err("legal_days = 20", "legal_days = -1"),
            E::Toml(_)
        ));
        assert!(matches!(err("\"county\"", "\"district\""), E::Toml(_)));
        assert!(matches!(err("\"promised\"", "\"someday\""), E::Toml(_)));
        assert!(matches!(
            err("promised_days = 5", "promised_days = 5\ntolerent = true"),
            E::Toml(_)
        ));
        assert!(matches!(
            err("code = \"X1\"", "code = \" \""),
            E::EmptyCode { index: 1 }
        ));
        let twice = format!("{ONE}\n{ONE}");
        let e = Catalog::from_toml(&twice).unwrap_err();
        assert!(matches!(e, E::DuplicateCode { .. }) && e.to_string().contains("X1"));
        let e = err("name = \"测试事项\"", "name = \"\"");
        assert!(matches!(e, E::EmptyField { field: "name", .. }) && e.to_string().contains("X1"));
        let e = err("department = \"测试局\"", "department = \"\"");
        assert!(matches!(
            e,
            E::EmptyField {
                field: "department",
                ..
            }
        ));
        let no_materials = ONE.split("materials").next().unwrap().to_string() + "materials = []\n";
        let e = Catalog::from_toml(&no_materials).unwrap_err();
        assert!(matches!(
            e,
            E::EmptyField {
                field: "materials",
                ..
            }
        ));
        let e = err("\"平面图\"", "\"\"");
        assert!(matches!(
            e,
            E::EmptyField {
                field: "material name",
                ..
            }
        ));
        let e = err("\"平面图\"", "\"申请表\"");
        assert!(matches!(e, E::DuplicateMaterial { .. }) && e.to_string().contains("申请表"));
        assert!(matches!(err("\"01\"", "\"1\""), E::MatterType { .. }));
        assert!(matches!(err("\"01\"", "\"0A\""), E::MatterType { .. }));
        let e = err("promised_days = 5", "promised_days = 21");
        assert!(matches!(
            e,
            E::PromisedOverLegal {
                promised: 21,
                legal: 20,
                ..
            }
        ));
    }

    #[test]
    fn rejects_items_whose_kind_does_not_fit() {
        use CatalogError as E;
        let immediate = "kind = \"immediate\"";
        assert!(matches!(
            err("kind = \"promised\"", immediate),
            E::ImmediateWithDays { promised: 5, .. }
        ));
        let ok = with(
            "kind = \"promised\"\nlegal_days = 20\npromised_days = 5",
            &format!("{immediate}\nlegal_days = 3\npromised_days = 0"),
        );
        assert_eq!(ok.unwrap().items()[0].kind, ItemKind::Immediate);
        assert!(matches!(
            err("promised_days = 5", "promised_days = 0"),
            E::NoPromisedDays { .. }
        ));

        let joint = "kind = \"joint\"";
        let e = err("kind = \"promised\"", joint);
        assert!(matches!(e, E::JointWithoutParticipants { .. }) && e.to_string().contains("X1"));
        let participants = "\nparticipants = [{ level = \"township\", department = \"派出所\" }]";
        let with_participants = ONE.to_string() + participants;
        let ok = Catalog::from_toml(&with_participants.replace("kind = \"promised\"", joint));
        assert_eq!(
            ok.unwrap().items()[0].participants[0].level,
            Level::Township
        );
        let e = Catalog::from_toml(&with_participants).unwrap_err();
        assert!(matches!(e, E::ParticipantsNotJoint { .. }));
        let blank = with_participants
            .replace("派出所", " ")
            .replace("kind = \"promised\"", joint);
        let e = Catalog::from_toml(&blank).unwrap_err();
        assert!(matches!(
            e,
            E::EmptyField {
                field: "participant department",
                ..
            }
        ));

        let report_up = "kind = \"report_up\"";
        let e = err("kind = \"promised\"", report_up);
        assert!(matches!(e, E::ReportUpWithoutFirstReview { .. }));
        let e = err(
            "kind = \"promised\"",
            &format!("{report_up}\nfirst_review_days = 0"),
        );
        assert!(matches!(e, E::ReportUpWithoutFirstReview { .. }));
        let ok = with(
            "kind = \"promised\"",
            &format!("{report_up}\nfirst_review_days = 20"),
        );
        assert_eq!(ok.unwrap().items()[0].first_review_days, Some(20));
        let township =
            format!("{report_up}\nfirst_review_days = 20\ndeciding_level = \"township\"");
        let e = Catalog::from_toml(
            &ONE.replace("deciding_level = \"county\"\n", "")
                .replace("kind = \"promised\"", &township),
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                E::ReportUpLevel {
                    level: "township",
                    ..
                }
            ),
            "{e}"
        );
        let e = err(
            "kind = \"promised\"",
            "kind = \"promised\"\nfirst_review_days = 20",
        );
        assert!(matches!(e, E::FirstReviewNotReportUp { .. }));
    }

    #[test]
    fn loads_from_a_file_and_names_it_in_errors() {
        let dir = std::env::temp_dir().join(format!("catalog-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("catalog.toml");
        std::fs::write(&good, ONE).unwrap();
        assert_eq!(Catalog::load(&good).unwrap().items().len(), 1);
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, ONE.replace("promised_days = 5", "promised_days = 30")).unwrap();
        let e = Catalog::load(&bad).unwrap_err().to_string();
        assert!(
            e.contains("bad.toml") && e.contains("X1") && e.contains("30"),
            "{e}"
        );
        let missing = Catalog::load(&dir.join("missing.toml")).unwrap_err();
        assert!(matches!(missing, CatalogError::Read { .. }));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
