//! The category catalogue (诉求分类): what complaints are about, in up to three levels, with
//! Chinese (and English) names, the department that answers for each by default, its deadline
//! class, the keywords residents use, and the extra questions some categories ask (Open311
//! service-definition attributes, which intake checks). Categories are retired, never deleted:
//! a record keeps the category it was filed under, and every change is kept in the history.
//! Pure: the store keeps them, `routes/workflow.rs` serves them, Open311 lists them.
//!
//! A code is its path: one to three dot-separated segments of lowercase ASCII letters, digits
//! and `_` (`environment`, `environment.noise`, `environment.noise.construction`); its parent
//! is the code without its last segment.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The deepest level.
pub const MAX_LEVEL: usize = 3;
const MAX_CODE_CHARS: usize = 64;
const MAX_NAME_CHARS: usize = 64;
const MAX_DESCRIPTION_CHARS: usize = 500;
const MAX_KEYWORDS: usize = 20;
const MAX_ATTRIBUTES: usize = 10;
const MAX_VALUES: usize = 30;
/// The longest answer to an attribute, in characters.
pub const MAX_ANSWER_CHARS: usize = 500;

/// A category as stored and served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Category {
    pub code: String,
    /// The parent's code (`None` at the top level).
    pub parent: Option<String>,
    pub level: u8,
    /// The Chinese name people read.
    pub name: String,
    pub name_en: Option<String>,
    pub description: String,
    /// The department that answers for it when no dispatch rule says otherwise.
    pub department: Option<String>,
    pub deadline_class: Option<String>,
    pub keywords: Vec<String>,
    /// Extra questions intake asks (Open311 service-definition attributes).
    pub attributes: Vec<Attribute>,
    /// Retired categories stay for the records filed under them; new complaints cannot use
    /// them.
    pub active: bool,
    pub updated_at: i64,
    pub updated_by: String,
}

/// An extra question, as Open311 GeoReport v2 defines a service attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attribute {
    pub code: String,
    pub datatype: Datatype,
    #[serde(default)]
    pub required: bool,
    /// The question, as the resident reads it.
    pub description: String,
    #[serde(default)]
    pub datatype_description: String,
    #[serde(default)]
    pub order: u32,
    /// The choices of a `singlevaluelist` or `multivaluelist`.
    #[serde(default)]
    pub values: Vec<AttributeValue>,
}

/// Open311's attribute datatypes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Datatype {
    String,
    Number,
    Datetime,
    Text,
    Singlevaluelist,
    Multivaluelist,
}

/// One choice of a list attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeValue {
    pub key: String,
    pub name: String,
}

/// What an admin sends to create or change a category.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryInput {
    pub name: String,
    #[serde(default)]
    pub name_en: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub deadline_class: Option<String>,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub attributes: Vec<Attribute>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// Why a category or an answer is refused: a stable code and a sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct Refusal {
    pub code: &'static str,
    pub detail: String,
}

fn refuse(code: &'static str, detail: impl Into<String>) -> Refusal {
    Refusal {
        code,
        detail: detail.into(),
    }
}

/// The segments of a valid category code, or why it is not one.
pub fn segments(code: &str) -> Result<Vec<&str>, Refusal> {
    let parts: Vec<&str> = code.split('.').collect();
    let valid = code.len() <= MAX_CODE_CHARS
        && parts.len() <= MAX_LEVEL
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        });
    if valid {
        Ok(parts)
    } else {
        Err(refuse(
            "invalid_code",
            format!(
                "a category code is 1 to {MAX_LEVEL} dot-separated segments of lowercase \
                 letters, digits and '_', at most {MAX_CODE_CHARS} characters"
            ),
        ))
    }
}

/// The parent code of a valid code.
pub fn parent_of(code: &str) -> Option<&str> {
    code.rsplit_once('.').map(|(parent, _)| parent)
}

fn within(field: &str, text: &str, max: usize, required: bool) -> Result<(), Refusal> {
    let n = text.trim().chars().count();
    if (required && n == 0) || text.chars().count() > max {
        return Err(refuse(
            "invalid_category",
            format!(
                "{field} has {} to {max} characters",
                if required { 1 } else { 0 }
            ),
        ));
    }
    Ok(())
}

impl CategoryInput {
    /// Checks what the body alone can say (lengths, attribute shapes); the caller checks the
    /// parent, the department and the class against the store.
    pub fn check(&self) -> Result<(), Refusal> {
        within("name", &self.name, MAX_NAME_CHARS, true)?;
        if let Some(en) = &self.name_en {
            within("name_en", en, MAX_NAME_CHARS * 2, false)?;
        }
        within(
            "description",
            &self.description,
            MAX_DESCRIPTION_CHARS,
            false,
        )?;
        if self.keywords.len() > MAX_KEYWORDS {
            return Err(refuse(
                "invalid_category",
                format!("at most {MAX_KEYWORDS} keywords"),
            ));
        }
        for k in &self.keywords {
            within("a keyword", k, MAX_NAME_CHARS, true)?;
        }
        if self.attributes.len() > MAX_ATTRIBUTES {
            return Err(refuse(
                "invalid_attribute",
                format!("at most {MAX_ATTRIBUTES} attributes"),
            ));
        }
        let mut seen = Vec::new();
        for a in &self.attributes {
            let code_ok = !a.code.is_empty()
                && a.code.len() <= 32
                && a.code
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !code_ok || seen.contains(&a.code.as_str()) {
                return Err(refuse(
                    "invalid_attribute",
                    format!(
                        "attribute code {:?}: 1 to 32 ASCII letters, digits or '_', unique",
                        a.code
                    ),
                ));
            }
            seen.push(&a.code);
            within("an attribute's description", &a.description, 200, true)
                .map_err(|e| refuse("invalid_attribute", e.detail))?;
            within(
                "an attribute's datatype_description",
                &a.datatype_description,
                200,
                false,
            )
            .map_err(|e| refuse("invalid_attribute", e.detail))?;
            let list = matches!(
                a.datatype,
                Datatype::Singlevaluelist | Datatype::Multivaluelist
            );
            let keys_ok = a.values.len() <= MAX_VALUES
                && a.values.iter().enumerate().all(|(i, v)| {
                    !v.key.trim().is_empty()
                        && v.key.chars().count() <= 32
                        && !v.name.trim().is_empty()
                        && v.name.chars().count() <= 64
                        && !a.values[..i].iter().any(|w| w.key == v.key)
                });
            if list == a.values.is_empty() || !keys_ok {
                return Err(refuse(
                    "invalid_attribute",
                    format!(
                        "attribute {:?}: a list has 1 to {MAX_VALUES} values with unique keys; \
                         other datatypes have none",
                        a.code
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl Category {
    /// The category `code` from an admin's input.
    pub fn from_input(code: &str, input: CategoryInput, by: &str, now: i64) -> Category {
        let level = code.split('.').count() as u8;
        let mut keywords = input.keywords;
        keywords.iter_mut().for_each(|k| *k = k.trim().to_string());
        keywords.dedup();
        Category {
            code: code.to_string(),
            parent: parent_of(code).map(str::to_string),
            level,
            name: input.name.trim().to_string(),
            name_en: input
                .name_en
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty()),
            description: input.description.trim().to_string(),
            department: input.department,
            deadline_class: input.deadline_class,
            keywords,
            attributes: input.attributes,
            active: input.active,
            updated_at: now,
            updated_by: by.to_string(),
        }
    }

    /// The answers a resident gave to this category's questions (`attribute[code]` → value;
    /// a multivaluelist's keys comma-separated), checked: every required one present, list
    /// answers among the keys, numbers and datetimes well-formed, none too long. Returns the
    /// answers as `(question, answer as read)` lines in the attributes' order.
    pub fn read_answers(
        &self,
        given: &BTreeMap<String, String>,
    ) -> Result<Vec<(String, String)>, Refusal> {
        if let Some(unknown) = given
            .keys()
            .find(|k| !self.attributes.iter().any(|a| &a.code == *k))
        {
            return Err(refuse(
                "unknown_attribute",
                format!("service {} has no attribute {unknown:?}", self.code),
            ));
        }
        let mut ordered: Vec<&Attribute> = self.attributes.iter().collect();
        ordered.sort_by_key(|a| a.order);
        let mut lines = Vec::new();
        for a in ordered {
            let value = given.get(&a.code).map(|v| v.trim()).unwrap_or_default();
            if value.is_empty() {
                if a.required {
                    return Err(refuse(
                        "missing_attribute",
                        format!("{} ({}) is required", a.description, a.code),
                    ));
                }
                continue;
            }
            if value.chars().count() > MAX_ANSWER_CHARS {
                return Err(refuse(
                    "invalid_attribute",
                    format!("the answer to {} is too long", a.code),
                ));
            }
            let bad = |what: &str| {
                refuse(
                    "invalid_attribute",
                    format!("attribute {}: {value:?} is not {what}", a.code),
                )
            };
            let name_of = |key: &str| {
                a.values
                    .iter()
                    .find(|v| v.key == key)
                    .map(|v| v.name.clone())
            };
            let read = match a.datatype {
                Datatype::String | Datatype::Text => value.to_string(),
                Datatype::Number => {
                    value
                        .parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite())
                        .ok_or_else(|| bad("a number"))?;
                    value.to_string()
                }
                Datatype::Datetime => {
                    time::OffsetDateTime::parse(
                        value,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .map_err(|_| bad("a W3C datetime"))?;
                    value.to_string()
                }
                Datatype::Singlevaluelist => {
                    name_of(value).ok_or_else(|| bad("one of its keys"))?
                }
                Datatype::Multivaluelist => value
                    .split(',')
                    .map(|k| name_of(k.trim()).ok_or_else(|| bad("a list of its keys")))
                    .collect::<Result<Vec<_>, _>>()?
                    .join("、"),
            };
            lines.push((a.description.clone(), read));
        }
        Ok(lines)
    }
}

/// The catalogue's category `code`: `unknown_category` when there is none, and
/// `retired_category` when it is retired and `for_new` (a new complaint, a correction at
/// acceptance: retired categories stay only for what was filed under them).
pub fn find<'a>(
    catalogue: &'a [Category],
    code: &str,
    for_new: bool,
) -> Result<&'a Category, Refusal> {
    let category = catalogue.iter().find(|c| c.code == code).ok_or_else(|| {
        refuse(
            "unknown_category",
            format!("no category {code:?} in the catalogue (GET /api/v1/categories)"),
        )
    })?;
    if for_new && !category.active {
        return Err(refuse(
            "retired_category",
            format!("category {code:?} is retired; choose another"),
        ));
    }
    Ok(category)
}

/// Why a new record may not be filed under its category, if it may not: a complaint names an
/// active category of the catalogue, or none yet (unclassified, the desk classifies it at
/// acceptance); other kinds are not filed under the catalogue.
pub fn filing_refusal(catalogue: &[Category], record: &sync_core::Record) -> Option<Refusal> {
    if record.kind != sync_core::Kind::Complaint || record.category.is_empty() {
        return None;
    }
    find(catalogue, &record.category, true).err()
}

/// The display names of codes: each category's name, for the reports.
pub fn names(categories: &[Category]) -> BTreeMap<String, String> {
    categories
        .iter()
        .map(|c| (c.code.clone(), c.name.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise() -> Category {
        let input: CategoryInput = serde_json::from_value(serde_json::json!({
            "name": "施工噪声",
            "attributes": [
                { "code": "period", "datatype": "singlevaluelist", "required": true,
                  "description": "噪声发生时段", "order": 1,
                  "values": [{ "key": "day", "name": "白天" }, { "key": "night", "name": "夜间" }] },
                { "code": "site", "datatype": "string", "description": "工地名称", "order": 2 },
            ],
        }))
        .unwrap();
        input.check().unwrap();
        Category::from_input("environment.noise.construction", input, "root", 0)
    }

    #[test]
    fn a_code_is_its_path_of_at_most_three_levels() {
        assert_eq!(
            segments("environment.noise").unwrap(),
            ["environment", "noise"]
        );
        assert_eq!(
            parent_of("environment.noise.night"),
            Some("environment.noise")
        );
        assert_eq!(parent_of("environment"), None);
        for bad in ["", "a..b", "A", "a.b.c.d", "noise-night", ".a", "噪声"] {
            assert!(segments(bad).is_err(), "{bad}");
        }
        assert_eq!(noise().level, 3);
    }

    #[test]
    fn answers_are_checked_against_the_questions_and_read_back_by_name() {
        let category = noise();
        let given = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        assert_eq!(
            category
                .read_answers(&given(&[("period", "night"), ("site", " 万达工地 ")]))
                .unwrap(),
            [
                ("噪声发生时段".to_string(), "夜间".to_string()),
                ("工地名称".to_string(), "万达工地".to_string())
            ]
        );
        let code = |pairs: &[(&str, &str)]| category.read_answers(&given(pairs)).unwrap_err().code;
        assert_eq!(code(&[]), "missing_attribute");
        assert_eq!(code(&[("period", "noon")]), "invalid_attribute");
        assert_eq!(
            code(&[("period", "day"), ("floor", "3")]),
            "unknown_attribute"
        );
    }

    #[test]
    fn a_list_without_values_or_a_text_with_values_is_refused() {
        let input = |attribute: serde_json::Value| -> CategoryInput {
            serde_json::from_value(serde_json::json!({ "name": "x", "attributes": [attribute] }))
                .unwrap()
        };
        let list = input(serde_json::json!({
            "code": "a", "datatype": "singlevaluelist", "description": "?" }));
        let text = input(serde_json::json!({
            "code": "a", "datatype": "text", "description": "?",
            "values": [{ "key": "k", "name": "n" }] }));
        assert_eq!(list.check().unwrap_err().code, "invalid_attribute");
        assert_eq!(text.check().unwrap_err().code, "invalid_attribute");
    }
}
