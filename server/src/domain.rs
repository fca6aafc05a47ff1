//! Domain types shared by the routes and the stores: roles, levels, accounts and areas.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// True for 1 to 64 ASCII letters, digits, `_`, `-` and `.`: the shape of account names and of
/// codes (areas, departments, deadline classes, Open311 clients).
fn is_name_like(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Why a name, code or password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("a username is 1 to 64 ASCII letters, digits, '_', '-' or '.'")]
    Username,
    #[error("a code is 1 to 64 ASCII letters, digits, '_', '-' or '.'")]
    Code,
    #[error("a password has {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters")]
    Password,
}

/// An account's login name, checked: 1 to 64 ASCII letters, digits, `_`, `-` and `.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl FromStr for Username {
    type Err = Invalid;

    fn from_str(text: &str) -> Result<Self, Invalid> {
        is_name_like(text)
            .then(|| Username(text.to_string()))
            .ok_or(Invalid::Username)
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A code naming an area, a department or a deadline class, checked: 1 to 64 ASCII letters,
/// digits, `_`, `-` and `.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Code(String);

impl Code {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl FromStr for Code {
    type Err = Invalid;

    fn from_str(text: &str) -> Result<Self, Invalid> {
        is_name_like(text)
            .then(|| Code(text.to_string()))
            .ok_or(Invalid::Code)
    }
}

/// The fewest characters a password has.
pub const MIN_PASSWORD_LEN: usize = 8;
/// The most bytes a password has (argon2 hashes whatever it is given).
pub const MAX_PASSWORD_LEN: usize = 1024;

/// A password as typed, checked for length; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

impl FromStr for Password {
    type Err = Invalid;

    fn from_str(text: &str) -> Result<Self, Invalid> {
        (text.chars().count() >= MIN_PASSWORD_LEN && text.len() <= MAX_PASSWORD_LEN)
            .then(|| Password(text.to_string()))
            .ok_or(Invalid::Password)
    }
}

/// What a person does, and so what the server lets them do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 网格员: walks one or a few grids, records complaints and risks.
    GridWorker,
    /// 一格三长 / 网格长: reviews everything in their grids.
    GridLeader,
    /// GIS staff: draws and imports the grid map.
    Gis,
    /// 派单: classifies and dispatches complaints.
    Dispatcher,
    /// 事权部门: a department handling cases.
    Department,
    /// 组织部门 / 纪检监察: watches overdue and badly handled cases.
    Supervisor,
    /// Manages accounts and assignments; may do everything.
    Admin,
}

/// Roles that may change the grid map.
pub const MAP_EDITORS: [Role; 2] = [Role::Gis, Role::Admin];

impl Role {
    /// Every role, in a stable order.
    pub const ALL: [Role; 7] = [
        Role::GridWorker,
        Role::GridLeader,
        Role::Gis,
        Role::Dispatcher,
        Role::Department,
        Role::Supervisor,
        Role::Admin,
    ];

    /// The name used on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::GridWorker => "grid_worker",
            Role::GridLeader => "grid_leader",
            Role::Gis => "gis",
            Role::Dispatcher => "dispatcher",
            Role::Department => "department",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    /// Whether the role sees the whole map regardless of its area assignments. GIS staff draw
    /// the whole map and admins manage it; every other role sees the subtrees it is assigned
    /// (plus their ancestors, for context).
    pub fn sees_whole_map(self) -> bool {
        matches!(self, Role::Admin | Role::Gis)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a known role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}`")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| UnknownRole(s.into()))
    }
}

/// A level of the area hierarchy, from the root down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// 市: the prefecture-level city.
    City,
    /// 县 / 区: county-level division.
    County,
    /// 乡镇 / 街道: township or street.
    Township,
    /// 村 / 社区: village or community.
    Village,
    /// 网格: a grid, the unit a grid worker walks.
    Grid,
}

impl Level {
    /// Every level, root first.
    pub const ALL: [Level; 5] = [
        Level::City,
        Level::County,
        Level::Township,
        Level::Village,
        Level::Grid,
    ];

    /// 0 for the city, 4 for a grid.
    pub fn depth(self) -> u8 {
        self as u8
    }

    /// The next level down, if any.
    pub fn child(self) -> Option<Level> {
        Level::ALL.get(self.depth() as usize + 1).copied()
    }

    /// The name used on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::City => "city",
            Level::County => "county",
            Level::Township => "township",
            Level::Village => "village",
            Level::Grid => "grid",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a known level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown level `{0}`")]
pub struct UnknownLevel(pub String);

impl FromStr for Level {
    type Err = UnknownLevel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Level::ALL
            .into_iter()
            .find(|level| level.as_str() == s)
            .ok_or_else(|| UnknownLevel(s.into()))
    }
}

/// An account as stored. Its `Debug` leaves out the password hash, so no log line carries it.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// Database id.
    pub id: i64,
    /// Unique login name.
    pub username: String,
    /// Argon2 PHC string.
    pub password_hash: String,
    /// What the person does.
    pub role: Role,
    /// Inactive accounts cannot log in and their tokens are refused.
    pub active: bool,
    /// Assigned area codes; each covers its subtree.
    pub areas: Vec<String>,
    /// For a department account: the department it acts for (its cases are those assigned
    /// to that department, wherever they lie).
    pub department: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("password_hash", &"<redacted>")
            .field("role", &self.role)
            .field("active", &self.active)
            .field("areas", &self.areas)
            .field("department", &self.department)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// An account to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Unique login name.
    pub username: String,
    /// Argon2 PHC string.
    pub password_hash: String,
    /// What the person does.
    pub role: Role,
    /// Assigned area codes.
    pub areas: Vec<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// Changes to an account; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    /// New role.
    pub role: Option<Role>,
    /// New Argon2 PHC string.
    pub password_hash: Option<String>,
    /// Activate or deactivate.
    pub active: Option<bool>,
}

/// An area as stored: geometry is GeoJSON text in WGS-84.
#[derive(Debug, Clone, PartialEq)]
pub struct AreaRecord {
    /// Unique code (administrative division code, extended for grids).
    pub code: String,
    /// Display name.
    pub name: String,
    /// Level in the hierarchy.
    pub level: Level,
    /// Parent code.
    pub parent: Option<String>,
    /// GeoJSON Polygon or MultiPolygon, WGS-84.
    pub geometry: String,
    /// `[min_lon, min_lat, max_lon, max_lat]`.
    pub bbox: [f64; 4],
    /// The map version that last wrote this area.
    pub version: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// Filters for listing areas; all that are set must hold.
#[derive(Debug, Clone, Default)]
pub struct AreaFilter {
    /// Only direct children of this code.
    pub parent: Option<String>,
    /// Only this level.
    pub level: Option<Level>,
    /// Only areas whose bounding box intersects `[min_lon, min_lat, max_lon, max_lat]` (WGS-84).
    pub bbox: Option<[f64; 4]>,
}

/// Unix seconds now.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod checked_text_tests {
    use super::{Code, Invalid, Password, Username};

    #[test]
    fn usernames_and_codes_are_short_ascii_names() {
        assert!("wang.li-2".parse::<Username>().is_ok());
        assert!("22030200100101".parse::<Code>().is_ok());
        assert_eq!("".parse::<Username>(), Err(Invalid::Username));
        assert_eq!("王丽".parse::<Username>(), Err(Invalid::Username));
        assert_eq!("a b".parse::<Code>(), Err(Invalid::Code));
        assert_eq!("x".repeat(65).parse::<Code>(), Err(Invalid::Code));
        assert!("x".repeat(64).parse::<Code>().is_ok());
    }

    #[test]
    fn a_password_has_eight_to_1024_characters_and_is_never_printed() {
        assert_eq!("short".parse::<Password>(), Err(Invalid::Password));
        assert_eq!("x".repeat(1025).parse::<Password>(), Err(Invalid::Password));
        let password: Password = "密码是八个字符吗".parse().unwrap();
        assert_eq!(format!("{password:?}"), "Password(***)");
    }
}
