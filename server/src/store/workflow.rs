//! The complaint workflow's tables: calendar, deadline classes, departments, dispatch rules,
//! case rows, supervision notices, settings and the scheduler's lease; their types and queries.
//! Columns are typed alike (TEXT and 64-bit integers) in both backends' migrations.

use serde::{Deserialize, Serialize};

use crate::workflow::calendar::{CalendarDay, DeadlineClass};

/// A person to call at a department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub name: String,
    #[serde(default)]
    pub phone: Option<String>,
    /// What they do there (e.g. 值班, 负责人).
    #[serde(default)]
    pub duty: Option<String>,
}

/// A department (事权部门).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Department {
    pub code: String,
    pub name: String,
    /// The area codes it serves (each covers its subtree).
    pub areas: Vec<String>,
    pub contacts: Vec<Contact>,
}

/// category × area → lead department and deadline class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchRule {
    /// A record category, or `*` for any.
    pub category: String,
    /// An area code; the rule covers its subtree.
    pub area: String,
    pub department: String,
    pub deadline_class: String,
}

/// The queryable row of a case, derived from its document (and the server's own bookkeeping:
/// deadline class, response deadline, duplicate link, plan follow-up) on every workflow write.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct CaseRow {
    pub record_id: String,
    pub status: String,
    pub category: String,
    pub owner_grid: Option<String>,
    pub channel: String,
    pub created_at: i64,
    pub lead_department: Option<String>,
    pub deadline_class: Option<String>,
    /// When the case was first dispatched.
    pub dispatched_at: Option<i64>,
    /// When the initial reply is (was) due.
    pub response_due: Option<i64>,
    /// When the active lead's result is due.
    pub deadline: Option<i64>,
    /// The lead department's first reply.
    pub replied_at: Option<i64>,
    pub result_outcome: Option<String>,
    pub result_at: Option<i64>,
    pub rating: Option<String>,
    pub evaluated_at: Option<i64>,
    pub returns: i64,
    pub duplicate_of: Option<String>,
    pub plan_follow_up_due: Option<i64>,
    pub closed_at: Option<i64>,
    pub updated_at: i64,
    /// Marked a group complaint (群体诉求) at acceptance.
    pub group_complaint: bool,
    /// Marked a legacy problem (历史遗留问题) at acceptance.
    pub legacy: bool,
    /// Who answers for the initial reply: the lead department and owner grid of the last
    /// dispatch made while the reply was still due and not given; a re-dispatch after that
    /// does not move a missed (or met) reply to someone else.
    pub response_department: Option<String>,
    pub response_grid: Option<String>,
    /// When the standing result must have been evaluated by; cleared by the evaluation.
    pub evaluation_due: Option<i64>,
}

/// An evaluation (回访评价) as the rates and points count it, fixed when it is made: the result
/// it judged, the department that held the case and the grid that owned it at that moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    pub id: String,
    pub record_id: String,
    pub at: i64,
    /// `satisfied`, `basically_satisfied` or `dissatisfied` (the case was returned).
    pub rating: String,
    /// The outcome of the result it judged.
    pub outcome: String,
    pub department: Option<String>,
    pub owner_grid: Option<String>,
    pub group_complaint: bool,
    pub legacy: bool,
}

/// A step of the hazard loop as the hazard figures count it, fixed when it is taken: the
/// hazard's type and level, the grid that owned it and the lead department at that moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HazardStep {
    /// The id of the step's timeline event.
    pub id: String,
    pub record_id: String,
    pub at: i64,
    /// `verified`, `returned_to_worker`, `resolved_in_grid`, `escalated`, `dispatched`,
    /// `rectified`, `reinspected_fixed` or `reinspected_not_fixed`.
    pub step: String,
    pub hazard_type: String,
    pub risk_level: String,
    pub owner_grid: Option<String>,
    /// The lead department: the one dispatched to, the one that rectified, the one whose
    /// rectification was re-inspected.
    pub department: Option<String>,
    /// For a rectification and its re-inspection: whether the rectification was reported by
    /// its deadline.
    pub on_time: Option<bool>,
}

/// A step of the grid leaders' review of a worker's complaint, kept when it is taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReviewStep {
    /// The id of the step's timeline event.
    pub id: String,
    pub record_id: String,
    pub at: i64,
    /// `verified`, `returned_to_worker`, `resubmitted` or `resolved_in_grid`.
    pub step: String,
    pub owner_grid: Option<String>,
}

/// A missed rectification deadline: the `result` notice on a hazard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HazardMiss {
    pub record_id: String,
    pub due_at: i64,
    pub department: Option<String>,
    pub owner_grid: Option<String>,
    pub hazard_type: String,
    pub risk_level: String,
}

/// A hazard as found: its type, level and owner grid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HazardFound {
    pub record_id: String,
    pub created_at: i64,
    pub hazard_type: String,
    pub risk_level: String,
    pub owner_grid: Option<String>,
}

/// What a workflow write stores beside the document and the case row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CaseWrites {
    pub notices: Vec<Notice>,
    pub evaluations: Vec<Evaluation>,
    pub hazard_steps: Vec<HazardStep>,
    pub reviews: Vec<ReviewStep>,
}

/// A supervision notice (督办).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    pub id: String,
    pub record_id: String,
    /// What is overdue: `reply`, `result`, `plan_follow_up`; or `manual` for a notice issued by
    /// a supervisor.
    pub subject: String,
    pub department: Option<String>,
    /// The deadline that was missed (none for manual notices).
    pub due_at: Option<i64>,
    /// The grid that owned the case when the notice was issued.
    pub owner_grid: Option<String>,
    pub issued_at: i64,
    /// A user name, or `server` for the scheduler.
    pub issued_by: String,
    pub note: String,
}

/// What a workflow commit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkflowOutcome {
    /// Document, row, case row and notices are stored.
    Stored,
    /// The document moved since it was read: read again and redo.
    Conflict,
    /// One of the notices exists already; nothing was stored.
    NoticeExists,
}

/// The first and last day of a year as stored (`YYYY-MM-DD` sorts as text); every day when
/// `year` is `None`.
pub(super) fn calendar_bounds(year: Option<i32>) -> (String, String) {
    match year {
        Some(y) => (format!("{y:04}-01-01"), format!("{y:04}-12-31")),
        None => ("0000-01-01".into(), "9999-12-31".into()),
    }
}

/// Decodes a stored JSON list, or reports the row as corrupt.
pub(super) fn json_column<T: serde::de::DeserializeOwned>(text: &str) -> super::Result<T> {
    serde_json::from_str(text).map_err(|e| super::StoreError::Corrupt(e.to_string()))
}

/// `DeadlineClass` from stored parts.
pub(super) fn deadline_class(
    code: String,
    name: String,
    response: (String, i64),
    handling: (String, i64),
) -> super::Result<DeadlineClass> {
    use crate::workflow::calendar::Span;
    let span = |(unit, amount): (String, i64)| {
        Span::from_parts(&unit, amount)
            .ok_or_else(|| super::StoreError::Corrupt(format!("span {amount} {unit}")))
    };
    Ok(DeadlineClass {
        code,
        name,
        response: span(response)?,
        handling: span(handling)?,
    })
}

/// A calendar row.
pub(super) fn calendar_day(day: &str, kind: &str, name: String) -> super::Result<CalendarDay> {
    Ok(CalendarDay {
        date: day
            .parse()
            .map_err(|e: crate::workflow::calendar::BadDate| {
                super::StoreError::Corrupt(e.to_string())
            })?,
        kind: kind
            .parse()
            .map_err(|e: crate::workflow::calendar::BadDate| {
                super::StoreError::Corrupt(e.to_string())
            })?,
        name,
    })
}

/// The case columns, with the owner grid and category read from the record's own row: a
/// boundary edit re-owns records (and a phone may correct a category) without a workflow write.
pub(super) const SELECT_CASE: &str = "SELECT c.record_id, c.status, r.category, r.owner_grid, \
    c.channel, c.created_at, c.lead_department, c.deadline_class, c.dispatched_at, \
    c.response_due, c.deadline, c.replied_at, c.result_outcome, c.result_at, c.rating, \
    c.evaluated_at, c.returns, c.duplicate_of, c.plan_follow_up_due, c.closed_at, c.updated_at, \
    c.group_complaint, c.legacy, c.response_department, c.response_grid, c.evaluation_due \
    FROM workflow_cases c JOIN records r ON r.id = c.record_id";

/// The workflow queries, for one backend (see `store/mod.rs`).
macro_rules! queries {
    () => {
        use sqlx::Row;

        use super::records::{insert_changes, write_attachments, write_row};
        use super::{CASE_IDS_MATCH, DbRow, Pool, text_list};
        use $crate::store::Result;
        use $crate::store::records::RecordCommit;
        use $crate::store::workflow::{
            CaseRow, CaseWrites, Department, DispatchRule, Evaluation, HazardFound, HazardMiss,
            HazardStep, Notice, ReviewStep, WorkflowOutcome,
            calendar_bounds,
            calendar_day, deadline_class, json_column,
        };
        use $crate::workflow::calendar::{CalendarDay, DeadlineClass};
        use $crate::workflow::catalogue::Category;

        pub(in crate::store) async fn calendar_days(
            pool: &Pool,
            year: Option<i32>,
        ) -> Result<Vec<CalendarDay>> {
            let (from, to) = calendar_bounds(year);
            let rows = sqlx::query(
                "SELECT day, kind, name FROM calendar_days WHERE day >= $1 AND day <= $2 \
                 ORDER BY day",
            )
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| calendar_day(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))
                .collect()
        }

        pub(in crate::store) async fn put_calendar_year(
            pool: &Pool,
            year: i32,
            days: &[CalendarDay],
        ) -> Result<()> {
            let (from, to) = calendar_bounds(Some(year));
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM calendar_days WHERE day >= $1 AND day <= $2")
                .bind(from)
                .bind(to)
                .execute(&mut *tx)
                .await?;
            for day in days {
                sqlx::query("INSERT INTO calendar_days (day, kind, name) VALUES ($1, $2, $3)")
                    .bind(day.date.to_string())
                    .bind(day.kind.as_str())
                    .bind(&day.name)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        }

        pub(in crate::store) async fn deadline_classes(pool: &Pool) -> Result<Vec<DeadlineClass>> {
            let rows = sqlx::query(
                "SELECT code, name, response_unit, response_amount, handling_unit, \
                 handling_amount FROM deadline_classes ORDER BY code",
            )
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    deadline_class(
                        r.try_get(0)?,
                        r.try_get(1)?,
                        (r.try_get(2)?, r.try_get(3)?),
                        (r.try_get(4)?, r.try_get(5)?),
                    )
                })
                .collect()
        }

        pub(in crate::store) async fn put_deadline_class(
            pool: &Pool,
            class: &DeadlineClass,
        ) -> Result<()> {
            let (ru, ra) = class.response.parts();
            let (hu, ha) = class.handling.parts();
            sqlx::query(
                "INSERT INTO deadline_classes (code, name, response_unit, response_amount, \
                 handling_unit, handling_amount) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name, \
                 response_unit = excluded.response_unit, response_amount = excluded.response_amount, \
                 handling_unit = excluded.handling_unit, handling_amount = excluded.handling_amount",
            )
            .bind(&class.code)
            .bind(&class.name)
            .bind(ru)
            .bind(ra)
            .bind(hu)
            .bind(ha)
            .execute(pool)
            .await?;
            Ok(())
        }

        pub(in crate::store) async fn departments(pool: &Pool) -> Result<Vec<Department>> {
            let rows = sqlx::query(
                "SELECT code, name, areas, contacts FROM departments ORDER BY code",
            )
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(Department {
                        code: r.try_get(0)?,
                        name: r.try_get(1)?,
                        areas: json_column(r.try_get(2)?)?,
                        contacts: json_column(r.try_get(3)?)?,
                    })
                })
                .collect()
        }

        pub(in crate::store) async fn put_department(
            pool: &Pool,
            department: &Department,
            now: i64,
        ) -> Result<()> {
            let areas = serde_json::to_string(&department.areas)
                .map_err(|e| $crate::store::StoreError::Corrupt(e.to_string()))?;
            let contacts = serde_json::to_string(&department.contacts)
                .map_err(|e| $crate::store::StoreError::Corrupt(e.to_string()))?;
            sqlx::query(
                "INSERT INTO departments (code, name, areas, contacts, updated_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (code) DO UPDATE SET \
                 name = excluded.name, areas = excluded.areas, contacts = excluded.contacts, \
                 updated_at = excluded.updated_at",
            )
            .bind(&department.code)
            .bind(&department.name)
            .bind(areas)
            .bind(contacts)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(())
        }

        fn category_from_row(r: &DbRow) -> Result<Category> {
            Ok(Category {
                code: r.try_get(0)?,
                parent: r.try_get(1)?,
                level: u8::try_from(r.try_get::<i64, _>(2)?)
                    .map_err(|e| $crate::store::StoreError::Corrupt(e.to_string()))?,
                name: r.try_get(3)?,
                name_en: r.try_get(4)?,
                description: r.try_get(5)?,
                department: r.try_get(6)?,
                deadline_class: r.try_get(7)?,
                keywords: json_column(r.try_get(8)?)?,
                attributes: json_column(r.try_get(9)?)?,
                active: r.try_get::<i64, _>(10)? != 0,
                updated_at: r.try_get(11)?,
                updated_by: r.try_get(12)?,
            })
        }

        pub(in crate::store) async fn categories(pool: &Pool) -> Result<Vec<Category>> {
            let rows = sqlx::query(
                "SELECT code, parent, CAST(level AS BIGINT), name, name_en, description, \
                 department, deadline_class, keywords, attributes, CAST(active AS BIGINT), \
                 updated_at, updated_by FROM categories ORDER BY code",
            )
            .fetch_all(pool)
            .await?;
            rows.iter().map(category_from_row).collect()
        }

        pub(in crate::store) async fn put_category(
            pool: &Pool,
            category: &Category,
        ) -> Result<()> {
            let corrupt = |e: serde_json::Error| $crate::store::StoreError::Corrupt(e.to_string());
            let keywords = serde_json::to_string(&category.keywords).map_err(corrupt)?;
            let attributes = serde_json::to_string(&category.attributes).map_err(corrupt)?;
            let whole = serde_json::to_string(category).map_err(corrupt)?;
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO categories (code, parent, level, name, name_en, description, \
                 department, deadline_class, keywords, attributes, active, updated_at, updated_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name, \
                 name_en = excluded.name_en, description = excluded.description, \
                 department = excluded.department, deadline_class = excluded.deadline_class, \
                 keywords = excluded.keywords, attributes = excluded.attributes, \
                 active = excluded.active, updated_at = excluded.updated_at, \
                 updated_by = excluded.updated_by",
            )
            .bind(&category.code)
            .bind(category.parent.as_deref())
            .bind(i32::from(category.level))
            .bind(&category.name)
            .bind(category.name_en.as_deref())
            .bind(&category.description)
            .bind(category.department.as_deref())
            .bind(category.deadline_class.as_deref())
            .bind(keywords)
            .bind(attributes)
            .bind(i32::from(category.active))
            .bind(category.updated_at)
            .bind(&category.updated_by)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO category_changes (id, code, at, changed_by, category) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(&category.code)
            .bind(category.updated_at)
            .bind(&category.updated_by)
            .bind(whole)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        }

        pub(in crate::store) async fn category_changes(
            pool: &Pool,
            code: &str,
        ) -> Result<Vec<Category>> {
            let rows = sqlx::query(
                "SELECT category FROM category_changes WHERE code = $1 ORDER BY at, id",
            )
            .bind(code)
            .fetch_all(pool)
            .await?;
            rows.iter().map(|r| json_column(r.try_get(0)?)).collect()
        }

        pub(in crate::store) async fn dispatch_rules(pool: &Pool) -> Result<Vec<DispatchRule>> {
            let rows = sqlx::query(
                "SELECT category, area_code, department, deadline_class FROM dispatch_rules \
                 ORDER BY category, area_code",
            )
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(DispatchRule {
                        category: r.try_get(0)?,
                        area: r.try_get(1)?,
                        department: r.try_get(2)?,
                        deadline_class: r.try_get(3)?,
                    })
                })
                .collect()
        }

        pub(in crate::store) async fn put_dispatch_rule(
            pool: &Pool,
            rule: &DispatchRule,
        ) -> Result<()> {
            sqlx::query(
                "INSERT INTO dispatch_rules (category, area_code, department, deadline_class) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (category, area_code) DO UPDATE SET \
                 department = excluded.department, deadline_class = excluded.deadline_class",
            )
            .bind(&rule.category)
            .bind(&rule.area)
            .bind(&rule.department)
            .bind(&rule.deadline_class)
            .execute(pool)
            .await?;
            Ok(())
        }

        pub(in crate::store) async fn delete_dispatch_rule(
            pool: &Pool,
            category: &str,
            area: &str,
        ) -> Result<bool> {
            let done = sqlx::query("DELETE FROM dispatch_rules WHERE category = $1 AND area_code = $2")
                .bind(category)
                .bind(area)
                .execute(pool)
                .await?;
            Ok(done.rows_affected() > 0)
        }

        pub(in crate::store) async fn set_user_department(
            pool: &Pool,
            user_id: i64,
            department: Option<&str>,
        ) -> Result<()> {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM user_departments WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            if let Some(department) = department {
                sqlx::query("INSERT INTO user_departments (user_id, department) VALUES ($1, $2)")
                    .bind(user_id)
                    .bind(department)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        }

        pub(in crate::store) async fn user_department(
            pool: &Pool,
            user_id: i64,
        ) -> Result<Option<String>> {
            let row = sqlx::query("SELECT department FROM user_departments WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(pool)
                .await?;
            Ok(row.map(|r| r.try_get(0)).transpose()?)
        }

        fn case_from_row(r: &DbRow) -> Result<CaseRow> {
            Ok(CaseRow {
                record_id: r.try_get(0)?,
                status: r.try_get(1)?,
                category: r.try_get(2)?,
                owner_grid: r.try_get(3)?,
                channel: r.try_get(4)?,
                created_at: r.try_get(5)?,
                lead_department: r.try_get(6)?,
                deadline_class: r.try_get(7)?,
                dispatched_at: r.try_get(8)?,
                response_due: r.try_get(9)?,
                deadline: r.try_get(10)?,
                replied_at: r.try_get(11)?,
                result_outcome: r.try_get(12)?,
                result_at: r.try_get(13)?,
                rating: r.try_get(14)?,
                evaluated_at: r.try_get(15)?,
                returns: r.try_get(16)?,
                duplicate_of: r.try_get(17)?,
                plan_follow_up_due: r.try_get(18)?,
                closed_at: r.try_get(19)?,
                updated_at: r.try_get(20)?,
                group_complaint: r.try_get::<i64, _>(21)? != 0,
                legacy: r.try_get::<i64, _>(22)? != 0,
                response_department: r.try_get(23)?,
                response_grid: r.try_get(24)?,
                evaluation_due: r.try_get(25)?,
            })
        }

        pub(in crate::store) async fn case_row(pool: &Pool, record_id: &str) -> Result<Option<CaseRow>> {
            let sql = sqlx::AssertSqlSafe(format!(
                "{} WHERE c.record_id = $1",
                $crate::store::workflow::SELECT_CASE
            ));
            let row = sqlx::query(sql).bind(record_id).fetch_optional(pool).await?;
            row.as_ref().map(case_from_row).transpose()
        }

        pub(in crate::store) async fn case_rows(pool: &Pool, ids: &[String]) -> Result<Vec<CaseRow>> {
            // The constant SQL is joined from constants only.
            let sql = sqlx::AssertSqlSafe(format!(
                "{} WHERE {CASE_IDS_MATCH}",
                $crate::store::workflow::SELECT_CASE
            ));
            let rows = sqlx::query(sql).bind(text_list(ids)).fetch_all(pool).await?;
            rows.iter().map(case_from_row).collect()
        }

        pub(in crate::store) async fn cases_due(pool: &Pool, now: i64) -> Result<Vec<CaseRow>> {
            // Open cases with a reply, result or plan follow-up past due. The constant SQL is
            // joined from constants only.
            let sql = sqlx::AssertSqlSafe(format!(
                "{} WHERE c.status <> 'closed' AND ( \
                 (c.replied_at IS NULL AND c.response_due IS NOT NULL AND c.response_due < $1) \
                 OR (c.result_at IS NULL AND c.deadline IS NOT NULL AND c.deadline < $1) \
                 OR (c.plan_follow_up_due IS NOT NULL AND c.plan_follow_up_due < $1) \
                 OR (c.evaluation_due IS NOT NULL AND c.evaluation_due < $1)) \
                 ORDER BY c.record_id",
                $crate::store::workflow::SELECT_CASE
            ));
            let rows = sqlx::query(sql).bind(now).fetch_all(pool).await?;
            rows.iter().map(case_from_row).collect()
        }

        pub(in crate::store) async fn cases_between(
            pool: &Pool,
            from: i64,
            to: i64,
        ) -> Result<Vec<CaseRow>> {
            // The constant SQL is joined from constants only.
            let sql = sqlx::AssertSqlSafe(format!(
                "{} WHERE (c.response_due >= $1 AND c.response_due <= $2) \
                 OR (c.result_at >= $1 AND c.result_at <= $2) \
                 OR (c.evaluated_at >= $1 AND c.evaluated_at <= $2) \
                 OR (c.created_at >= $1 AND c.created_at <= $2) \
                 OR (c.closed_at >= $1 AND c.closed_at <= $2) ORDER BY c.record_id",
                $crate::store::workflow::SELECT_CASE
            ));
            let rows = sqlx::query(sql).bind(from).bind(to).fetch_all(pool).await?;
            rows.iter().map(case_from_row).collect()
        }

        pub(in crate::store) async fn complaints_created_between(
            pool: &Pool,
            from: i64,
            to: i64,
        ) -> Result<Vec<(String, String, String, String, Option<String>)>> {
            let rows = sqlx::query(
                "SELECT id, channel, category, status, owner_grid FROM records \
                 WHERE kind = 'complaint' AND created_at >= $1 AND created_at <= $2 ORDER BY id",
            )
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?)))
                .collect()
        }

        pub(in crate::store) async fn setting(pool: &Pool, key: &str) -> Result<Option<String>> {
            let row = sqlx::query("SELECT value FROM workflow_settings WHERE key = $1")
                .bind(key)
                .fetch_optional(pool)
                .await?;
            Ok(row.map(|r| r.try_get(0)).transpose()?)
        }

        pub(in crate::store) async fn put_setting(pool: &Pool, key: &str, value: &str) -> Result<()> {
            sqlx::query(
                "INSERT INTO workflow_settings (key, value) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(key)
            .bind(value)
            .execute(pool)
            .await?;
            Ok(())
        }

        pub(in crate::store) async fn notices(
            pool: &Pool,
            record_id: Option<&str>,
        ) -> Result<Vec<Notice>> {
            let rows = sqlx::query(
                "SELECT id, record_id, subject, department, due_at, issued_at, issued_by, note, \
                 owner_grid FROM supervision_notices WHERE ($1 IS NULL OR record_id = $1) \
                 ORDER BY issued_at, id",
            )
            .bind(record_id)
            .fetch_all(pool)
            .await?;
            rows.iter().map(notice_from_row).collect()
        }

        fn notice_from_row(r: &DbRow) -> Result<Notice> {
            Ok(Notice {
                id: r.try_get(0)?,
                record_id: r.try_get(1)?,
                subject: r.try_get(2)?,
                department: r.try_get(3)?,
                due_at: r.try_get(4)?,
                issued_at: r.try_get(5)?,
                issued_by: r.try_get(6)?,
                note: r.try_get(7)?,
                owner_grid: r.try_get(8)?,
            })
        }

        pub(in crate::store) async fn notices_issued_between(
            pool: &Pool,
            from: i64,
            to: i64,
        ) -> Result<Vec<Notice>> {
            let rows = sqlx::query(
                "SELECT n.id, n.record_id, n.subject, n.department, n.due_at, n.issued_at, \
                 n.issued_by, n.note, n.owner_grid FROM supervision_notices n \
                 JOIN records r ON r.id = n.record_id \
                 WHERE n.issued_at >= $1 AND n.issued_at <= $2 AND r.kind = 'complaint' \
                 ORDER BY n.issued_at, n.id",
            )
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?;
            rows.iter().map(notice_from_row).collect()
        }

        pub(in crate::store) async fn hazard_steps_between(
            pool: &Pool,
            from: i64,
            to: i64,
        ) -> Result<Vec<HazardStep>> {
            let rows = sqlx::query(
                "SELECT id, record_id, at, step, hazard_type, risk_level, owner_grid, department, \
                 on_time FROM hazard_steps WHERE at >= $1 AND at <= $2 ORDER BY at, id",
            )
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(HazardStep {
                        id: r.try_get(0)?,
                        record_id: r.try_get(1)?,
                        at: r.try_get(2)?,
                        step: r.try_get(3)?,
                        hazard_type: r.try_get(4)?,
                        risk_level: r.try_get(5)?,
                        owner_grid: r.try_get(6)?,
                        department: r.try_get(7)?,
                        on_time: r.try_get::<Option<i64>, _>(8)?.map(|v| v != 0),
                    })
                })
                .collect()
        }

        pub(in crate::store) async fn reviews_between(
            pool: &Pool,
            from: i64,
            to: i64,
        ) -> Result<Vec<ReviewStep>> {
            let rows = sqlx::query(
                "SELECT id, record_id, at, step, owner_grid FROM complaint_reviews \
                 WHERE at >= $1 AND at <= $2 ORDER BY at, id",
            )
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(ReviewStep {
                        id: r.try_get(0)?,
                        record_id: r.try_get(1)?,
                        at: r.try_get(2)?,
                        step: r.try_get(3)?,
                        owner_grid: r.try_get(4)?,
                    })
                })
                .collect()
        }

        pub(in crate::store) async fn hazard_misses_between(
            pool: &Pool,
            from: i64,
            to: i64,
        ) -> Result<Vec<HazardMiss>> {
            let rows = sqlx::query(
                "SELECT n.record_id, n.due_at, n.department, n.owner_grid, \
                 coalesce(r.hazard_type, ''), coalesce(r.risk_level, '') \
                 FROM supervision_notices n JOIN records r ON r.id = n.record_id \
                 WHERE n.subject = 'result' AND r.kind = 'risk_inspection' \
                 AND n.due_at >= $1 AND n.due_at <= $2 ORDER BY n.due_at, n.id",
            )
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(HazardMiss {
                        record_id: r.try_get(0)?,
                        due_at: r.try_get(1)?,
                        department: r.try_get(2)?,
                        owner_grid: r.try_get(3)?,
                        hazard_type: r.try_get(4)?,
                        risk_level: r.try_get(5)?,
                    })
                })
                .collect()
        }

        pub(in crate::store) async fn hazards_created_between(
            pool: &Pool,
            from: i64,
            to: i64,
        ) -> Result<Vec<HazardFound>> {
            let rows = sqlx::query(
                "SELECT id, created_at, coalesce(hazard_type, ''), coalesce(risk_level, ''), \
                 owner_grid FROM records WHERE kind = 'risk_inspection' \
                 AND created_at >= $1 AND created_at <= $2 ORDER BY created_at, id",
            )
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(HazardFound {
                        record_id: r.try_get(0)?,
                        created_at: r.try_get(1)?,
                        hazard_type: r.try_get(2)?,
                        risk_level: r.try_get(3)?,
                        owner_grid: r.try_get(4)?,
                    })
                })
                .collect()
        }

        pub(in crate::store) async fn evaluations_between(
            pool: &Pool,
            from: i64,
            to: i64,
        ) -> Result<Vec<Evaluation>> {
            let rows = sqlx::query(
                "SELECT id, record_id, at, rating, outcome, department, owner_grid, \
                 group_complaint, legacy FROM case_evaluations WHERE at >= $1 AND at <= $2 \
                 ORDER BY at, id",
            )
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(Evaluation {
                        id: r.try_get(0)?,
                        record_id: r.try_get(1)?,
                        at: r.try_get(2)?,
                        rating: r.try_get(3)?,
                        outcome: r.try_get(4)?,
                        department: r.try_get(5)?,
                        owner_grid: r.try_get(6)?,
                        group_complaint: r.try_get::<i64, _>(7)? != 0,
                        legacy: r.try_get::<i64, _>(8)? != 0,
                    })
                })
                .collect()
        }

        /// The document, its row and changes (as `commit_records` stores them), the case row
        /// and any notices, in one transaction.
        pub(in crate::store) async fn commit_workflow(
            pool: &Pool,
            commit: &RecordCommit,
            case: &CaseRow,
            writes: &CaseWrites,
        ) -> Result<WorkflowOutcome> {
            let mut tx = pool.begin().await?;
            let seq: i64 = sqlx::query("UPDATE change_seq SET seq = seq WHERE id = 1 RETURNING seq")
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
            let last_seq = seq + commit.changes.len() as i64;
            if write_row(&mut tx, commit, last_seq).await? == 0 {
                tx.rollback().await?;
                return Ok(WorkflowOutcome::Conflict);
            }
            write_attachments(&mut tx, &[commit]).await?;
            insert_changes(&mut tx, commit, seq + 1).await?;
            sqlx::query("UPDATE change_seq SET seq = $1 WHERE id = 1")
                .bind(last_seq)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO workflow_cases (record_id, status, category, owner_grid, channel, \
                 created_at, lead_department, deadline_class, dispatched_at, response_due, \
                 deadline, replied_at, result_outcome, result_at, rating, evaluated_at, returns, \
                 duplicate_of, plan_follow_up_due, closed_at, updated_at, group_complaint, legacy, \
                 response_department, response_grid, evaluation_due) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                 $17, $18, $19, $20, $21, $22, $23, $24, $25, $26) \
                 ON CONFLICT (record_id) DO UPDATE SET \
                 response_department = excluded.response_department, \
                 evaluation_due = excluded.evaluation_due, \
                 response_grid = excluded.response_grid, \
                 status = excluded.status, group_complaint = excluded.group_complaint, \
                 legacy = excluded.legacy, \
                 category = excluded.category, owner_grid = excluded.owner_grid, \
                 channel = excluded.channel, lead_department = excluded.lead_department, \
                 deadline_class = excluded.deadline_class, dispatched_at = excluded.dispatched_at, \
                 response_due = excluded.response_due, deadline = excluded.deadline, \
                 replied_at = excluded.replied_at, result_outcome = excluded.result_outcome, \
                 result_at = excluded.result_at, rating = excluded.rating, \
                 evaluated_at = excluded.evaluated_at, returns = excluded.returns, \
                 duplicate_of = excluded.duplicate_of, \
                 plan_follow_up_due = excluded.plan_follow_up_due, \
                 closed_at = excluded.closed_at, updated_at = excluded.updated_at",
            )
            .bind(&case.record_id)
            .bind(&case.status)
            .bind(&case.category)
            .bind(case.owner_grid.as_deref())
            .bind(&case.channel)
            .bind(case.created_at)
            .bind(case.lead_department.as_deref())
            .bind(case.deadline_class.as_deref())
            .bind(case.dispatched_at)
            .bind(case.response_due)
            .bind(case.deadline)
            .bind(case.replied_at)
            .bind(case.result_outcome.as_deref())
            .bind(case.result_at)
            .bind(case.rating.as_deref())
            .bind(case.evaluated_at)
            .bind(case.returns)
            .bind(case.duplicate_of.as_deref())
            .bind(case.plan_follow_up_due)
            .bind(case.closed_at)
            .bind(case.updated_at)
            .bind(i64::from(case.group_complaint))
            .bind(i64::from(case.legacy))
            .bind(case.response_department.as_deref())
            .bind(case.response_grid.as_deref())
            .bind(case.evaluation_due)
            .execute(&mut *tx)
            .await?;
            for e in &writes.evaluations {
                sqlx::query(
                    "INSERT INTO case_evaluations (id, record_id, at, rating, outcome, department, \
                     owner_grid, group_complaint, legacy) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&e.id)
                .bind(&e.record_id)
                .bind(e.at)
                .bind(&e.rating)
                .bind(&e.outcome)
                .bind(e.department.as_deref())
                .bind(e.owner_grid.as_deref())
                .bind(i64::from(e.group_complaint))
                .bind(i64::from(e.legacy))
                .execute(&mut *tx)
                .await?;
            }
            for h in &writes.hazard_steps {
                sqlx::query(
                    "INSERT INTO hazard_steps (id, record_id, at, step, hazard_type, risk_level, \
                     owner_grid, department, on_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&h.id)
                .bind(&h.record_id)
                .bind(h.at)
                .bind(&h.step)
                .bind(&h.hazard_type)
                .bind(&h.risk_level)
                .bind(h.owner_grid.as_deref())
                .bind(h.department.as_deref())
                .bind(h.on_time.map(i64::from))
                .execute(&mut *tx)
                .await?;
            }
            for r in &writes.reviews {
                sqlx::query(
                    "INSERT INTO complaint_reviews (id, record_id, at, step, owner_grid) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&r.id)
                .bind(&r.record_id)
                .bind(r.at)
                .bind(&r.step)
                .bind(r.owner_grid.as_deref())
                .execute(&mut *tx)
                .await?;
            }
            for notice in &writes.notices {
                let inserted = sqlx::query(
                    "INSERT INTO supervision_notices (id, record_id, subject, department, due_at, \
                     issued_at, issued_by, note, owner_grid) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
                )
                .bind(&notice.id)
                .bind(&notice.record_id)
                .bind(&notice.subject)
                .bind(notice.department.as_deref())
                .bind(notice.due_at)
                .bind(notice.issued_at)
                .bind(&notice.issued_by)
                .bind(&notice.note)
                .bind(notice.owner_grid.as_deref())
                .execute(&mut *tx)
                .await?;
                if inserted.rows_affected() == 0 {
                    tx.rollback().await?;
                    return Ok(WorkflowOutcome::NoticeExists);
                }
            }
            tx.commit().await?;
            Ok(WorkflowOutcome::Stored)
        }

        pub(in crate::store) async fn take_lease(
            pool: &Pool,
            name: &str,
            holder: &str,
            now: i64,
            ttl_ms: i64,
        ) -> Result<bool> {
            let taken = sqlx::query(
                "UPDATE scheduler_leases SET holder = $1, expires_at = $2 \
                 WHERE name = $3 AND (expires_at < $4 OR holder = $1)",
            )
            .bind(holder)
            .bind(now + ttl_ms)
            .bind(name)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(taken.rows_affected() == 1)
        }
    };
}

pub(super) use queries;
