//! The workflow API: the calendar, deadline classes, departments, dispatch rules,
//! department accounts, case transitions and supervision notices.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::domain::{Role, now_unix};
use crate::error::{ApiError, ApiResult};
use crate::routes::common::{self, record_view};
use crate::state::AppState;
use crate::store::{CaseRow, Contact, Department, DispatchRule};
use crate::workflow::calendar::{CalendarDay, DeadlineClass, Span};
use crate::workflow::lifecycle::Action;
use crate::workflow::service;

/// Roles that manage departments and dispatch rules.
const DESK: &[Role] = &[Role::Dispatcher, Role::Admin];

/// Codes of departments and deadline classes: 1–64 ASCII letters, digits, `_`, `-`, `.`.
fn check_code(what: &str, code: &str) -> ApiResult<()> {
    code.parse::<crate::domain::Code>()
        .map(|_| ())
        .map_err(|_| {
            ApiError::bad_request(
                "invalid_code",
                format!("a {what} code is 1 to 64 ASCII letters, digits, '_', '-' or '.'"),
            )
        })
}

fn check_name(name: &str) -> ApiResult<()> {
    if name.trim().is_empty() || name.chars().count() > 200 {
        return Err(ApiError::unprocessable(
            "invalid_name",
            "a name has 1 to 200 characters",
        ));
    }
    Ok(())
}

fn check_year(year: i32) -> ApiResult<()> {
    if (1900..=2200).contains(&year) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_year",
            "the year must be 1900 to 2200",
        ))
    }
}

/// `GET /api/v1/calendar/{year}`: the year's holidays and make-up working days.
#[tracing::instrument(skip(state, _caller))]
pub async fn get_calendar(
    state: web::Data<AppState>,
    _caller: Caller,
    year: web::Path<i32>,
) -> ApiResult<HttpResponse> {
    let year = year.into_inner();
    check_year(year)?;
    let days = state.store.calendar_days(Some(year)).await?;
    Ok(HttpResponse::Ok().json(json!({ "year": year, "days": days })))
}

/// A year's calendar.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarBody {
    days: Vec<CalendarDay>,
}

/// `PUT /api/v1/calendar/{year}`: replaces the year's holidays and make-up working days.
#[tracing::instrument(skip(state, caller, body), fields(caller = %caller.user.username))]
pub async fn put_calendar(
    state: web::Data<AppState>,
    caller: Caller,
    year: web::Path<i32>,
    body: web::Json<CalendarBody>,
) -> ApiResult<HttpResponse> {
    caller.require_role(&[Role::Admin])?;
    let year = year.into_inner();
    check_year(year)?;
    let mut days = body.into_inner().days;
    days.sort_by_key(|d| d.date);
    for pair in days.windows(2) {
        if pair[0].date == pair[1].date {
            return Err(ApiError::unprocessable(
                "invalid_calendar",
                format!("{} is listed twice", pair[0].date),
            ));
        }
    }
    if let Some(day) = days.iter().find(|d| d.date.year() != year) {
        return Err(ApiError::unprocessable(
            "invalid_calendar",
            format!("{} is not in {year}", day.date),
        ));
    }
    if days.iter().any(|d| d.name.chars().count() > 200) {
        return Err(ApiError::unprocessable(
            "invalid_calendar",
            "a day's name has at most 200 characters",
        ));
    }
    state.store.put_calendar_year(year, &days).await?;
    Ok(HttpResponse::Ok().json(json!({ "year": year, "days": days })))
}

/// `GET /api/v1/deadline-classes`.
#[tracing::instrument(skip(state, _caller))]
pub async fn list_deadline_classes(
    state: web::Data<AppState>,
    _caller: Caller,
) -> ApiResult<HttpResponse> {
    let classes = state.store.deadline_classes().await?;
    Ok(HttpResponse::Ok().json(json!({ "deadline_classes": classes })))
}

/// A deadline class's settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadlineClassBody {
    name: String,
    response: Span,
    handling: Span,
}

/// `PUT /api/v1/deadline-classes/{code}`: creates or replaces a class.
#[tracing::instrument(skip(state, caller, body), fields(caller = %caller.user.username))]
pub async fn put_deadline_class(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
    body: web::Json<DeadlineClassBody>,
) -> ApiResult<HttpResponse> {
    caller.require_role(&[Role::Admin])?;
    let code = code.into_inner();
    check_code("deadline class", &code)?;
    let DeadlineClassBody {
        name,
        response,
        handling,
    } = body.into_inner();
    check_name(&name)?;
    if !response.is_valid() || !handling.is_valid() {
        return Err(ApiError::unprocessable(
            "invalid_span",
            "a span is 1 to 2160 hours or 1 to 250 working days",
        ));
    }
    let class = DeadlineClass {
        code,
        name,
        response,
        handling,
    };
    state.store.put_deadline_class(&class).await?;
    Ok(HttpResponse::Ok().json(class))
}

/// Query of the category list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoriesQuery {
    /// Only active categories (`true`) or only retired ones (`false`); both when omitted.
    active: Option<bool>,
}

/// `GET /api/v1/categories`: the catalogue, by code (every account: phones file under it).
#[tracing::instrument(skip(state, _caller))]
pub async fn list_categories(
    state: web::Data<AppState>,
    _caller: Caller,
    query: web::Query<CategoriesQuery>,
) -> ApiResult<HttpResponse> {
    let active = query.into_inner().active;
    let categories: Vec<_> = state
        .store
        .categories()
        .await?
        .into_iter()
        .filter(|c| active.is_none_or(|a| c.active == a))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "categories": categories })))
}

async fn find_category(
    state: &AppState,
    code: &str,
) -> ApiResult<crate::workflow::catalogue::Category> {
    state
        .store
        .categories()
        .await?
        .into_iter()
        .find(|c| c.code == code)
        .ok_or_else(|| ApiError::NotFound(format!("no category {code:?}")))
}

/// `GET /api/v1/categories/{code}`.
#[tracing::instrument(skip(state, _caller))]
pub async fn get_category(
    state: web::Data<AppState>,
    _caller: Caller,
    code: web::Path<String>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(find_category(&state, &code).await?))
}

/// `GET /api/v1/categories/{code}/history`: every change made through the API, oldest first.
#[tracing::instrument(skip(state, caller))]
pub async fn category_history(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require_role(DESK)?;
    let current = find_category(&state, &code).await?;
    let changes = state.store.category_changes(&current.code).await?;
    Ok(HttpResponse::Ok().json(json!({ "code": current.code, "changes": changes })))
}

/// `PUT /api/v1/categories/{code}` (admin): creates a category under an existing parent, or
/// changes one; `active: false` retires it (never while an active category lies under it), and
/// `active: true` brings it back (only under an active parent).
#[tracing::instrument(skip(state, caller, body), fields(caller = %caller.user.username))]
pub async fn put_category(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
    body: web::Json<crate::workflow::catalogue::CategoryInput>,
) -> ApiResult<HttpResponse> {
    use crate::workflow::catalogue::{self, Category};
    caller.require_role(&[Role::Admin])?;
    let code = code.into_inner();
    catalogue::segments(&code).map_err(|e| ApiError::bad_request(e.code, e.detail))?;
    let input = body.into_inner();
    input.check()?;
    let all = state.store.categories().await?;
    if let Some(parent) = catalogue::parent_of(&code) {
        match all.iter().find(|c| c.code == parent) {
            None => {
                return Err(ApiError::unprocessable(
                    "unknown_parent",
                    format!("no category {parent:?} to hold {code:?}; create it first"),
                ));
            }
            Some(p) if input.active && !p.active => {
                return Err(ApiError::InvalidState {
                    code: "retired_parent",
                    detail: format!("{parent} is retired; bring it back first"),
                    extra: None,
                });
            }
            Some(_) => {}
        }
    }
    let prefix = format!("{code}.");
    if !input.active
        && let Some(child) = all.iter().find(|c| c.active && c.code.starts_with(&prefix))
    {
        return Err(ApiError::InvalidState {
            code: "active_children",
            detail: format!(
                "{} is still active under {code}; retire it first",
                child.code
            ),
            extra: None,
        });
    }
    if let Some(department) = &input.department
        && !state
            .store
            .departments()
            .await?
            .iter()
            .any(|d| &d.code == department)
    {
        return Err(ApiError::unprocessable(
            "unknown_department",
            format!("no department {department:?}"),
        ));
    }
    if let Some(class) = &input.deadline_class
        && !state
            .store
            .deadline_classes()
            .await?
            .iter()
            .any(|c| &c.code == class)
    {
        return Err(ApiError::unprocessable(
            "unknown_deadline_class",
            format!("no deadline class {class:?}"),
        ));
    }
    let category = Category::from_input(&code, input, &caller.user.username, now_unix() * 1000);
    state.store.put_category(&category).await?;
    Ok(HttpResponse::Ok().json(category))
}

/// `GET /api/v1/departments`.
#[tracing::instrument(skip(state, _caller))]
pub async fn list_departments(
    state: web::Data<AppState>,
    _caller: Caller,
) -> ApiResult<HttpResponse> {
    let departments = state.store.departments().await?;
    Ok(HttpResponse::Ok().json(json!({ "departments": departments })))
}

/// `GET /api/v1/departments/{code}`.
#[tracing::instrument(skip(state, _caller))]
pub async fn get_department(
    state: web::Data<AppState>,
    _caller: Caller,
    code: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let code = code.into_inner();
    let department = state
        .store
        .departments()
        .await?
        .into_iter()
        .find(|d| d.code == code)
        .ok_or_else(|| ApiError::NotFound(format!("no department {code:?}")))?;
    Ok(HttpResponse::Ok().json(department))
}

/// A department's settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentBody {
    name: String,
    #[serde(default)]
    areas: Vec<String>,
    #[serde(default)]
    contacts: Vec<Contact>,
}

async fn check_areas(state: &AppState, areas: &[String]) -> ApiResult<()> {
    let found = state.store.area_levels(areas).await?;
    if let Some(missing) = areas.iter().find(|a| !found.iter().any(|(c, _)| c == *a)) {
        return Err(ApiError::unprocessable(
            "unknown_area",
            format!("no such area: {missing}"),
        ));
    }
    Ok(())
}

/// `PUT /api/v1/departments/{code}`: creates or replaces a department.
#[tracing::instrument(skip(state, caller, body), fields(caller = %caller.user.username))]
pub async fn put_department(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
    body: web::Json<DepartmentBody>,
) -> ApiResult<HttpResponse> {
    caller.require_role(DESK)?;
    let code = code.into_inner();
    check_code("department", &code)?;
    let DepartmentBody {
        name,
        mut areas,
        contacts,
    } = body.into_inner();
    check_name(&name)?;
    areas.sort();
    areas.dedup();
    check_areas(&state, &areas).await?;
    if contacts.len() > 50
        || contacts.iter().any(|c| {
            c.name.trim().is_empty()
                || c.name.chars().count() > 100
                || c.phone.as_ref().is_some_and(|p| p.chars().count() > 40)
                || c.duty.as_ref().is_some_and(|d| d.chars().count() > 100)
        })
    {
        return Err(ApiError::unprocessable(
            "invalid_contact",
            "at most 50 contacts, each with a name of 1 to 100 characters",
        ));
    }
    let department = Department {
        code,
        name,
        areas,
        contacts,
    };
    state
        .store
        .put_department(&department, now_unix() * 1000)
        .await?;
    Ok(HttpResponse::Ok().json(department))
}

/// `GET /api/v1/dispatch-rules`.
#[tracing::instrument(skip(state, _caller))]
pub async fn list_dispatch_rules(
    state: web::Data<AppState>,
    _caller: Caller,
) -> ApiResult<HttpResponse> {
    let rules = state.store.dispatch_rules().await?;
    Ok(HttpResponse::Ok().json(json!({ "dispatch_rules": rules })))
}

/// `PUT /api/v1/dispatch-rules`: creates or replaces the rule for a category and area.
#[tracing::instrument(skip(state, caller, body), fields(caller = %caller.user.username))]
pub async fn put_dispatch_rule(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<DispatchRule>,
) -> ApiResult<HttpResponse> {
    caller.require_role(DESK)?;
    let rule = body.into_inner();
    // A rule's category is one a record can carry: the schema's limit for a code.
    let max = sync_core::schema::limits::CODE;
    if rule.category.trim().is_empty() || rule.category.chars().count() > max {
        return Err(ApiError::unprocessable(
            "invalid_category",
            format!("a category has 1 to {max} characters (or is `*`)"),
        ));
    }
    if rule.category != "*" {
        service::catalogue_category(state.store.as_ref(), &rule.category, false).await?;
    }
    check_areas(&state, std::slice::from_ref(&rule.area)).await?;
    if !state
        .store
        .departments()
        .await?
        .iter()
        .any(|d| d.code == rule.department)
    {
        return Err(ApiError::unprocessable(
            "unknown_department",
            format!("no department {:?}", rule.department),
        ));
    }
    if !state
        .store
        .deadline_classes()
        .await?
        .iter()
        .any(|c| c.code == rule.deadline_class)
    {
        return Err(ApiError::unprocessable(
            "unknown_deadline_class",
            format!("no deadline class {:?}", rule.deadline_class),
        ));
    }
    state.store.put_dispatch_rule(&rule).await?;
    Ok(HttpResponse::Ok().json(rule))
}

/// Which rule to delete.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleKey {
    category: String,
    area: String,
}

/// `DELETE /api/v1/dispatch-rules?category=…&area=…`.
#[tracing::instrument(skip(state, caller), fields(caller = %caller.user.username))]
pub async fn delete_dispatch_rule(
    state: web::Data<AppState>,
    caller: Caller,
    key: web::Query<RuleKey>,
) -> ApiResult<HttpResponse> {
    caller.require_role(DESK)?;
    if state
        .store
        .delete_dispatch_rule(&key.category, &key.area)
        .await?
    {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound("no such dispatch rule".into()))
    }
}

/// The department an account acts for.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserDepartmentBody {
    #[serde(deserialize_with = "common::required_nullable")]
    department: Option<String>,
}

/// `PUT /api/v1/admin/users/{username}/department`: links a department account to its
/// department (`null` unlinks it).
#[tracing::instrument(skip(state, caller, body), fields(caller = %caller.user.username))]
pub async fn put_user_department(
    state: web::Data<AppState>,
    caller: Caller,
    username: web::Path<String>,
    body: web::Json<UserDepartmentBody>,
) -> ApiResult<HttpResponse> {
    caller.require_role(&[Role::Admin])?;
    let username = username.into_inner();
    let user = state
        .store
        .user_by_name(&username)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no user `{username}`")))?;
    let department = body.into_inner().department;
    if let Some(code) = &department {
        if user.role != Role::Department {
            return Err(ApiError::unprocessable(
                "not_a_department_account",
                format!("{username} has role {}, not department", user.role),
            ));
        }
        if !state
            .store
            .departments()
            .await?
            .iter()
            .any(|d| &d.code == code)
        {
            return Err(ApiError::unprocessable(
                "unknown_department",
                format!("no department {code:?}"),
            ));
        }
    }
    state
        .store
        .set_user_department(user.id, department.as_deref())
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "username": username, "department": department })))
}

fn case_view(case: &CaseRow) -> Value {
    serde_json::to_value(case).unwrap_or(Value::Null)
}

/// `POST /api/v1/records/{id}/transitions`: one step of the case's lifecycle.
#[tracing::instrument(skip(state, caller, body), fields(caller = %caller.user.username))]
pub async fn transition(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let action: Action = serde_json::from_value(body.into_inner())
        .map_err(|e| ApiError::unprocessable("invalid_transition_request", e.to_string()))?;
    let (record, case) = service::transition(&state, &caller.user, &id, action).await?;
    Ok(HttpResponse::Ok().json(json!({
        "record": record_view(&record, &[]),
        "case": case_view(&case),
    })))
}

/// `GET /api/v1/records/{id}/case`: the case's queryable row (deadlines, lead, timings).
#[tracing::instrument(skip(state, caller), fields(caller = %caller.user.username))]
pub async fn get_case(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require_role(&[
        Role::Dispatcher,
        Role::Admin,
        Role::Supervisor,
        Role::Department,
        Role::GridLeader,
    ])?;
    let (_, record) = crate::records::visible(&state, &caller.user, &id).await?;
    let case = state
        .store
        .case_row(&record.id.to_string())
        .await?
        .ok_or_else(|| ApiError::NotFound("this record has not entered the workflow".into()))?;
    Ok(HttpResponse::Ok().json(case_view(&case)))
}

/// `GET /api/v1/records/{id}/actions`: the workflow steps the caller may take on this record
/// now (what their queue offers for it, and supervision of a case that waits on someone), and
/// where a dispatch would go by the rules when it is one of them.
#[tracing::instrument(skip(state, caller), fields(caller = %caller.user.username))]
pub async fn record_actions(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let (_, record) = crate::records::visible(&state, &caller.user, &id).await?;
    let map = state.grids.snapshot().await?;
    let areas = crate::workflow::service::leader_review_areas(state.store.as_ref()).await?;
    let under_review = crate::workflow::service::under_leader_review(
        record.kind.as_str(),
        record.channel.as_str(),
        record.owner_grid.as_ref().and_then(|o| o.code.as_deref()),
        &areas,
        &map,
    );
    let actions = crate::workflow::queue::actions_for(
        caller.user.role,
        record.kind.as_str(),
        record.workflow.status.as_str(),
        under_review,
    );
    let mut answer = json!({ "actions": actions });
    if actions.contains(&"dispatch") {
        // What a dispatch that names nothing would take, for the desk to see before it does.
        let (lead, class) =
            crate::workflow::service::dispatch_defaults(state.store.as_ref(), &map, &record)
                .await?;
        answer["dispatch"] = json!({ "lead": lead, "deadline_class": class });
    }
    Ok(HttpResponse::Ok().json(answer))
}

/// Filters of the notices listing.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeQuery {
    record: Option<uuid::Uuid>,
}

/// `GET /api/v1/supervision-notices`: notices issued (by the scheduler or by hand); a department
/// account sees those addressed to its department.
#[tracing::instrument(skip(state, caller), fields(caller = %caller.user.username))]
pub async fn list_notices(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<NoticeQuery>,
) -> ApiResult<HttpResponse> {
    caller.require_role(&[
        Role::Supervisor,
        Role::Dispatcher,
        Role::Admin,
        Role::Department,
    ])?;
    let record = query.record.map(|r| r.to_string());
    let mut notices = state.store.notices(record.as_deref()).await?;
    // A department sees the notices addressed to it, and only those.
    if caller.user.role == Role::Department {
        let department = state.store.user_department(caller.user.id).await?;
        notices.retain(|n| department.is_some() && n.department == department);
    }
    Ok(HttpResponse::Ok().json(json!({ "notices": notices })))
}

/// Query of the rates report.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatesQuery {
    /// First day of the period (CST), inclusive.
    from: crate::workflow::calendar::Date,
    /// Last day of the period (CST), inclusive.
    to: crate::workflow::calendar::Date,
    /// Weight of "basically satisfied" (0–1, default 0.8).
    basic_weight: Option<f64>,
    /// Smallest denominator ranked (default 10).
    min_sample: Option<u64>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

/// `GET /api/v1/reports/rates`: the three rates per region (every level) and per department
/// for a period, with rankings.
#[tracing::instrument(skip(state, caller), fields(caller = %caller.user.username))]
pub async fn rates(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<RatesQuery>,
) -> ApiResult<HttpResponse> {
    use crate::workflow::rates::{self, RateSettings};
    caller.require_role(&[Role::Supervisor, Role::Dispatcher, Role::Admin])?;
    let q = query.into_inner();
    if q.to < q.from || q.to.days() - q.from.days() > 366 {
        return Err(ApiError::bad_request(
            "invalid_period",
            "the period runs forwards and spans at most 367 days",
        ));
    }
    let defaults = RateSettings::default();
    let settings = RateSettings {
        basic_weight: q.basic_weight.unwrap_or(defaults.basic_weight),
        min_sample: q.min_sample.unwrap_or(defaults.min_sample),
    };
    if !(0.0..=1.0).contains(&settings.basic_weight) {
        return Err(ApiError::bad_request(
            "invalid_weight",
            "basic_weight is between 0 and 1",
        ));
    }
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_format",
                format!("unknown format {other:?}"),
            ));
        }
    };
    let (from, to) = (q.from.start_ms(), q.to.end_ms());
    let cases = state.store.cases_between(from, to).await?;
    let evaluations = state.store.evaluations_between(from, to).await?;
    let map = state.grids.snapshot().await?;
    let mut report = rates::compute(&cases, &evaluations, from, to, &settings, |grid| {
        map.region_path(grid)
    });
    let labels = crate::workflow::report::labels(state.store.as_ref(), &map).await?;
    report.name_with(&labels);
    if csv {
        use crate::workflow::export::{rates_table, table_csv};
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                "content-disposition",
                format!("attachment; filename=\"rates-{}-{}.csv\"", q.from, q.to),
            ))
            .body(table_csv(&rates_table(&report)).map_err(ApiError::internal)?));
    }
    Ok(HttpResponse::Ok().json(report))
}

/// The key of the bonus and deduction rules in `workflow_settings`.
const SCORE_RULES: &str = "score_rules";

async fn score_rules(state: &AppState) -> ApiResult<crate::workflow::report::ScoreRules> {
    Ok(match state.store.setting(SCORE_RULES).await? {
        Some(text) => serde_json::from_str(&text).map_err(ApiError::internal)?,
        None => Default::default(),
    })
}

/// `GET /api/v1/score-rules`: the monthly report's bonus and deduction points.
#[tracing::instrument(skip(state, caller), fields(caller = %caller.user.username))]
pub async fn get_score_rules(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<HttpResponse> {
    caller.require_role(&[Role::Supervisor, Role::Dispatcher, Role::Admin])?;
    Ok(HttpResponse::Ok().json(score_rules(&state).await?))
}

/// `PUT /api/v1/score-rules` (admin).
#[tracing::instrument(skip(state, caller, body), fields(caller = %caller.user.username))]
pub async fn put_score_rules(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<crate::workflow::report::ScoreRules>,
) -> ApiResult<HttpResponse> {
    caller.require_role(&[Role::Admin])?;
    let rules = body.into_inner();
    if !rules.is_valid() {
        return Err(ApiError::unprocessable(
            "invalid_score_rules",
            "every figure is a finite number within ±1000",
        ));
    }
    let text = serde_json::to_string(&rules).map_err(ApiError::internal)?;
    state.store.put_setting(SCORE_RULES, &text).await?;
    Ok(HttpResponse::Ok().json(rules))
}

/// Where workers' complaints go to their grid's leaders before the desk.
#[derive(Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct LeaderReview {
    /// Area codes; each covers its subtree. Empty: every complaint goes straight to the desk.
    areas: Vec<String>,
}

/// The most areas the leader-review setting names.
const MAX_REVIEW_AREAS: usize = 1_000;

/// `GET /api/v1/settings/leader-review` (admins, the desk, supervisors, grid leaders).
#[tracing::instrument(skip(state, caller), fields(caller = %caller.user.username))]
pub async fn get_leader_review(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<HttpResponse> {
    caller.require_role(&[
        Role::Admin,
        Role::Dispatcher,
        Role::Supervisor,
        Role::GridLeader,
    ])?;
    let areas = crate::workflow::service::leader_review_areas(state.store.as_ref()).await?;
    Ok(HttpResponse::Ok().json(LeaderReview { areas }))
}

/// `PUT /api/v1/settings/leader-review` (admin): the regions whose grid workers' complaints go
/// to their grid's leaders (verify, return, settle in the grid) before the desk.
#[tracing::instrument(skip(state, caller, body), fields(caller = %caller.user.username))]
pub async fn put_leader_review(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<LeaderReview>,
) -> ApiResult<HttpResponse> {
    caller.require_role(&[Role::Admin])?;
    let mut areas = body.into_inner().areas;
    if areas.len() > MAX_REVIEW_AREAS {
        return Err(ApiError::unprocessable(
            "too_many",
            format!("at most {MAX_REVIEW_AREAS} areas"),
        ));
    }
    let map = state.grids.snapshot().await?;
    if let Some(unknown) = areas.iter().find(|a| !map.has_area(a)) {
        return Err(ApiError::unprocessable(
            "unknown_area",
            format!(
                "no area {:?} on the map",
                unknown.chars().take(64).collect::<String>()
            ),
        ));
    }
    areas.sort();
    areas.dedup();
    let text = serde_json::to_string(&areas).map_err(ApiError::internal)?;
    state
        .store
        .put_setting(crate::workflow::service::LEADER_REVIEW_AREAS, &text)
        .await?;
    Ok(HttpResponse::Ok().json(LeaderReview { areas }))
}

/// Query of the monthly report.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonthlyQuery {
    basic_weight: Option<f64>,
    min_sample: Option<u64>,
    /// `json` (default), `csv`, `xlsx` or `svg` (the 12-month chart).
    format: Option<String>,
    /// With `format=csv`: one table as a CSV file (`overview`, `channels`, `categories`,
    /// `statuses`, `regions`, `hot_categories`, `hot_grids`, `prominent`, `rates`, `scores`,
    /// `trend`); without it, every table in a zip.
    table: Option<String>,
}

/// `GET /api/v1/reports/monthly/{month}`: the monthly report (月汇总、月分析).
#[tracing::instrument(skip(state, caller), fields(caller = %caller.user.username))]
pub async fn monthly_report(
    state: web::Data<AppState>,
    caller: Caller,
    month: web::Path<String>,
    query: web::Query<MonthlyQuery>,
) -> ApiResult<HttpResponse> {
    use crate::workflow::export;
    use crate::workflow::rates::RateSettings;
    use crate::workflow::report::{self, Month};
    caller.require_role(&[Role::Supervisor, Role::Dispatcher, Role::Admin])?;
    let month = Month::parse(&month)
        .ok_or_else(|| ApiError::bad_request("invalid_month", "a month is YYYY-MM"))?;
    let q = query.into_inner();
    let defaults = RateSettings::default();
    let settings = RateSettings {
        basic_weight: q.basic_weight.unwrap_or(defaults.basic_weight),
        min_sample: q.min_sample.unwrap_or(defaults.min_sample),
    };
    if !(0.0..=1.0).contains(&settings.basic_weight) {
        return Err(ApiError::bad_request(
            "invalid_weight",
            "basic_weight is between 0 and 1",
        ));
    }
    let format = q.format.unwrap_or_else(|| "json".into());
    if !["json", "csv", "xlsx", "svg"].contains(&format.as_str()) {
        return Err(ApiError::bad_request(
            "invalid_format",
            format!("unknown format {format:?}"),
        ));
    }
    if q.table.is_some() && format != "csv" {
        return Err(ApiError::bad_request(
            "invalid_query",
            "table is a parameter of format=csv",
        ));
    }
    let map = state.grids.snapshot().await?;
    let rules = score_rules(&state).await?;
    let report =
        report::gather_monthly(state.store.as_ref(), &map, month, &settings, rules).await?;
    let attachment = |name: String| {
        (
            "content-disposition",
            format!("attachment; filename=\"{name}\""),
        )
    };
    Ok(match format.as_str() {
        "csv" => {
            let tables = export::tables(&report);
            match q.table {
                Some(key) => {
                    let table = tables.iter().find(|t| t.key == key).ok_or_else(|| {
                        ApiError::bad_request("invalid_table", format!("no table {key:?}"))
                    })?;
                    HttpResponse::Ok()
                        .content_type("text/csv; charset=utf-8")
                        .insert_header(attachment(format!("report-{month}-{key}.csv")))
                        .body(export::table_csv(table).map_err(ApiError::internal)?)
                }
                None => HttpResponse::Ok()
                    .content_type("application/zip")
                    .insert_header(attachment(format!("report-{month}-csv.zip")))
                    .body(export::csv_zip(&tables).map_err(ApiError::internal)?),
            }
        }
        "svg" => HttpResponse::Ok()
            .content_type("image/svg+xml")
            .body(export::trend_svg(&report)),
        "xlsx" => HttpResponse::Ok()
            .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
            .insert_header(attachment(format!("report-{month}.xlsx")))
            .body(export::to_xlsx(&report).map_err(ApiError::internal)?),
        _ => HttpResponse::Ok().json(report),
    })
}

/// Query of the work queue.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    /// At most this many items (1 to 500, default 100).
    limit: Option<i64>,
}

/// `GET /api/v1/queue` (待办): what awaits the caller's decision in their scope — records on
/// which the next step is theirs — oldest first, each with the actions the caller may take,
/// when it last changed, and the deadline of the waiting step when it has one.
#[tracing::instrument(skip(state, caller), fields(caller = %caller.user.username))]
pub async fn queue(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<QueueQuery>,
) -> ApiResult<HttpResponse> {
    use crate::records::AccountAuthority;
    use crate::store::RecordQuery;
    let limit = query.into_inner().limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            "limit must be 1..=500",
        ));
    }
    let map = state.grids.snapshot().await?;
    let authority = AccountAuthority {
        user: &caller.user,
        map: &map,
    };
    let review_areas = crate::workflow::service::leader_review_areas(state.store.as_ref()).await?;
    let mut items = Vec::new();
    for awaiting in crate::workflow::queue::for_role(caller.user.role) {
        let rows = state
            .store
            .list_records(&RecordQuery {
                kind: Some(awaiting.kind.to_string()),
                status: Some(awaiting.status.to_string()),
                ..RecordQuery::within(authority.scope(), limit)
            })
            .await?;
        let under_review = |row: &crate::store::RecordRow| {
            crate::workflow::service::under_leader_review(
                &row.kind,
                &row.channel,
                row.owner_grid.as_deref(),
                &review_areas,
                &map,
            )
        };
        items.extend(
            rows.into_iter()
                .filter(|row| awaiting.review.is_none_or(|r| under_review(row) == r))
                .map(|row| (row, awaiting.actions)),
        );
    }
    // Oldest first, as each status's list came (by creation, then id).
    items.sort_by(|(a, _), (b, _)| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    items.truncate(limit as usize);
    let ids: Vec<String> = items.iter().map(|(row, _)| row.id.clone()).collect();
    let cases: std::collections::HashMap<String, CaseRow> = state
        .store
        .case_rows(&ids)
        .await?
        .into_iter()
        .map(|c| (c.record_id.clone(), c))
        .collect();
    let items: Vec<Value> = items
        .iter()
        .map(|(row, actions)| {
            let case = cases.get(&row.id);
            // The deadline of the step that waits: a reply, a result or rectification, or the
            // evaluation of a reported result.
            let deadline = case.and_then(|c| match row.status.as_str() {
                "dispatched" | "signed_for"
                    if c.replied_at.is_none() && row.kind == "complaint" =>
                {
                    c.response_due
                }
                "dispatched" | "signed_for" | "replied" | "handling" => c.deadline,
                "result_reported" | "feedback_given" => c.evaluation_due,
                _ => None,
            });
            json!({
                "id": row.id,
                "kind": row.kind,
                "status": row.status,
                "title": row.title,
                "category": row.category,
                "owner_grid": row.owner_grid,
                "waiting_since": row.updated_at,
                "deadline": deadline,
                "actions": actions,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}
