//! Concurrent values of one field. Two writers who set the same single-valued field (a
//! category, a title, a coordinate) without seeing each other's change both land in the
//! document: automerge keeps every value and shows one, the same one on every replica (the
//! change with the higher operation id). Nothing is lost, but the writer whose value is not
//! shown would not know. This module finds such fields, tells which conflicts a merge brought,
//! and names whose value was kept and whose was overruled.

use std::collections::BTreeSet;

use automerge::{ActorId, ObjType, ReadDoc, ScalarValue, Value};
use automerge::{ObjId, ROOT};

use crate::document::{RecordDoc, Writer};
use crate::schema::RecordId;

/// How deep nested maps are searched (`workflow.evaluation.rating` is three levels).
const MAX_DEPTH: usize = 4;

/// A field two writers set concurrently, as a merge brought it: the value the record shows and
/// one value it does not.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Conflict {
    pub id: RecordId,
    /// The field as a dotted path: `category`, `location.lon`, `workflow.deadline`.
    pub field: String,
    /// The value the record holds (every replica shows the same).
    pub kept: serde_json::Value,
    /// Who wrote it, from the change message (`None` for changes made by other tools).
    pub kept_by: Option<String>,
    /// The concurrent value that is not shown.
    pub overruled: serde_json::Value,
    pub overruled_by: Option<String>,
    /// The automerge actor (hex) of the overruled value: a device tells its own by this.
    #[serde(skip)]
    pub overruled_actor: ActorId,
}

/// One field holding concurrent values in a document.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenConflict {
    field: String,
    /// The shown value first, then the others; each with the id of the operation that set it.
    values: Vec<(serde_json::Value, ObjId)>,
}

impl OpenConflict {
    fn ops(&self) -> BTreeSet<String> {
        self.values.iter().map(|(_, id)| id.to_string()).collect()
    }
}

impl RecordDoc {
    /// Every single-valued field that holds concurrent, different values now.
    pub fn open_conflicts(&self) -> Vec<OpenConflict> {
        let mut out = Vec::new();
        walk(self.as_automerge(), &ROOT, "", 0, None, &mut out);
        out
    }

    /// [`RecordDoc::open_conflicts`] as the document stood at `heads` (before a merge: a
    /// caller walks the merged document first and looks back only when it found conflicts).
    pub fn open_conflicts_at(&self, heads: &[automerge::ChangeHash]) -> Vec<OpenConflict> {
        let mut out = Vec::new();
        walk(self.as_automerge(), &ROOT, "", 0, Some(heads), &mut out);
        out
    }

    /// The conflicts in `after` (this document's [`RecordDoc::open_conflicts`] now) that were
    /// not in `before`: what the last merge brought, one per overruled value.
    pub fn new_conflicts(
        &mut self,
        id: RecordId,
        before: &[OpenConflict],
        after: &[OpenConflict],
    ) -> Vec<Conflict> {
        let seen: BTreeSet<(String, BTreeSet<String>)> =
            before.iter().map(|c| (c.field.clone(), c.ops())).collect();
        let fresh: Vec<&OpenConflict> = after
            .iter()
            .filter(|c| !seen.contains(&(c.field.clone(), c.ops())))
            .collect();
        if fresh.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for open in fresh {
            let (kept, kept_op) = &open.values[0];
            let kept_by = self.writer_of(kept_op);
            for (value, op) in &open.values[1..] {
                let Some(actor) = actor_of(op) else { continue };
                out.push(Conflict {
                    id,
                    field: open.field.clone(),
                    kept: kept.clone(),
                    kept_by: kept_by.clone(),
                    overruled: value.clone(),
                    overruled_by: self.writer_of(op),
                    overruled_actor: actor,
                });
            }
        }
        out
    }

    /// The user named in the message of the change that holds operation `op`.
    fn writer_of(&mut self, op: &ObjId) -> Option<String> {
        let ObjId::Id(counter, actor, _) = op else {
            return None;
        };
        self.automerge()
            .get_changes(&[])
            .into_iter()
            .find(|c| {
                c.actor_id() == actor
                    && c.start_op().get() <= *counter
                    && *counter < c.start_op().get() + c.len() as u64
            })
            .and_then(|c| c.message().and_then(|m| Writer::from_change_message(m)))
            .map(|w| w.user)
    }
}

fn actor_of(op: &ObjId) -> Option<ActorId> {
    match op {
        ObjId::Id(_, actor, _) => Some(actor.clone()),
        ObjId::Root => None,
    }
}

fn walk(
    doc: &automerge::AutoCommit,
    obj: &ObjId,
    prefix: &str,
    depth: usize,
    at: Option<&[automerge::ChangeHash]>,
    out: &mut Vec<OpenConflict>,
) {
    let keys = match at {
        Some(heads) => doc.keys_at(obj, heads),
        None => doc.keys(obj),
    };
    let get = |key: &str| match at {
        Some(heads) => doc.get_at(obj, key, heads),
        None => doc.get(obj, key),
    };
    for key in keys {
        let field = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        let all = match at {
            Some(heads) => doc.get_all_at(obj, key.as_str(), heads),
            None => doc.get_all(obj, key.as_str()),
        };
        let Ok(all) = all else {
            continue;
        };
        if all.len() > 1 && all.iter().all(|(v, _)| v.is_scalar()) {
            let Ok(Some((_, shown))) = get(key.as_str()) else {
                continue;
            };
            let mut values: Vec<(serde_json::Value, ObjId)> = all
                .iter()
                .filter_map(|(v, id)| match v {
                    Value::Scalar(s) => Some((json(s), id.clone())),
                    Value::Object(_) => None,
                })
                .collect();
            // The shown value first; values equal to it are no conflict a person would see.
            let Some(at) = values.iter().position(|(_, id)| *id == shown) else {
                continue;
            };
            let first = values.remove(at);
            values.retain(|(v, _)| *v != first.0);
            if values.is_empty() {
                continue;
            }
            values.insert(0, first);
            out.push(OpenConflict { field, values });
        } else if depth < MAX_DEPTH
            && let Some((Value::Object(ObjType::Map), child)) = all.into_iter().next_back()
        {
            walk(doc, &child, &field, depth + 1, at, out);
        }
    }
}

fn json(value: &ScalarValue) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        ScalarValue::Str(s) => J::String(s.to_string()),
        ScalarValue::Int(i) | ScalarValue::Timestamp(i) => J::from(*i),
        ScalarValue::Uint(u) => J::from(*u),
        ScalarValue::F64(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        ScalarValue::Boolean(b) => J::Bool(*b),
        ScalarValue::Null => J::Null,
        other => J::String(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use crate::{RecordBuilder, RecordDoc, Writer, new_actor};

    fn fork_pair() -> (RecordDoc, RecordDoc, Writer, Writer) {
        let worker = Writer::new("wang", "phone-1");
        let desk = Writer::new("zhou", "web");
        let mut phone = RecordDoc::create(
            &RecordBuilder::complaint("Noise", &worker)
                .category("noise")
                .build(),
            new_actor(),
            &worker,
        )
        .unwrap();
        let mut server = phone.fork();
        server.set_actor(new_actor());
        (phone, server, worker, desk)
    }

    #[test]
    fn concurrent_categories_are_one_conflict_naming_both_writers() {
        let (mut phone, mut server, worker, desk) = fork_pair();
        phone
            .update(&worker, |r| {
                r.category = "housing".into();
                Ok(())
            })
            .unwrap();
        server
            .update(&desk, |r| {
                r.category = "municipal".into();
                Ok(())
            })
            .unwrap();
        let id = phone.id().unwrap();
        let heads = phone.heads();
        phone.merge_bytes(&server.save()).unwrap();
        let before = phone.open_conflicts_at(&heads);
        let after = phone.open_conflicts();
        let conflicts = phone.new_conflicts(id, &before, &after);

        assert_eq!(conflicts.len(), 1, "{conflicts:?}");
        let c = &conflicts[0];
        assert_eq!(c.field, "category");
        let shown = phone.record().unwrap().category;
        assert_eq!(c.kept, serde_json::json!(shown));
        let (kept_by, overruled, overruled_by) = if shown == "housing" {
            ("wang", "municipal", "zhou")
        } else {
            ("zhou", "housing", "wang")
        };
        assert_eq!(c.kept_by.as_deref(), Some(kept_by));
        assert_eq!(c.overruled, serde_json::json!(overruled));
        assert_eq!(c.overruled_by.as_deref(), Some(overruled_by));
        // Merging again brings nothing new.
        let again = phone.open_conflicts();
        phone.merge_bytes(&server.save()).unwrap();
        let after_again = phone.open_conflicts();
        assert!(phone.new_conflicts(id, &again, &after_again).is_empty());
    }

    proptest::proptest! {
        /// Whatever two writers set concurrently, a merge brings exactly one conflict per field
        /// both set to different values, each keeping what the record shows and overruling the
        /// other writer's value; merging in the other direction tells the same.
        #[test]
        fn a_merge_tells_each_field_both_writers_set_differently(
            mine in proptest::collection::vec(proptest::option::of("[a-c]"), 2),
            theirs in proptest::collection::vec(proptest::option::of("[a-c]"), 2),
        ) {
            let (mut phone, mut server, worker, desk) = fork_pair();
            let set = |r: &mut crate::Record, values: &[Option<String>]| {
                if let Some(v) = &values[0] { r.category = v.clone(); }
                if let Some(v) = &values[1] { r.claimed_grid = Some(v.clone()); }
            };
            phone.update(&worker, |r| { set(r, &mine); Ok(()) }).unwrap();
            server.update(&desk, |r| { set(r, &theirs); Ok(()) }).unwrap();
            let id = phone.id().unwrap();
            let (phone_before, server_before) = (phone.open_conflicts(), server.open_conflicts());
            let phone_heads = phone.heads();
            phone.merge_bytes(&server.save()).unwrap();
            server.merge_bytes(&phone.save()).unwrap();
            proptest::prop_assert_eq!(phone.open_conflicts_at(&phone_heads), phone_before.clone());
            let (phone_after, server_after) = (phone.open_conflicts(), server.open_conflicts());
            let on_phone = phone.new_conflicts(id, &phone_before, &phone_after);
            let on_server = server.new_conflicts(id, &server_before, &server_after);

            // (The title and description are text, merged character by character: never a
            // conflict.)
            let fields = ["category", "claimed_grid"];
            let expected: Vec<&str> = (0..2)
                .filter(|&i| matches!((&mine[i], &theirs[i]), (Some(a), Some(b)) if a != b))
                .map(|i| fields[i])
                .collect();
            let mut told: Vec<&str> = on_phone.iter().map(|c| c.field.as_str()).collect();
            told.sort_by_key(|f| fields.iter().position(|x| x == f));
            proptest::prop_assert_eq!(told, expected);
            let record = serde_json::to_value(phone.record().unwrap()).unwrap();
            for c in &on_phone {
                proptest::prop_assert_eq!(&record[c.field.as_str()], &c.kept);
                proptest::prop_assert_ne!(&c.kept, &c.overruled);
            }
            let strip = |cs: Vec<crate::Conflict>| cs.into_iter().map(|c| (c.field, c.kept.to_string(), c.overruled.to_string())).collect::<std::collections::BTreeSet<_>>();
            proptest::prop_assert_eq!(strip(on_phone), strip(on_server));
        }
    }

    #[test]
    fn the_same_value_set_twice_and_edits_of_different_fields_are_no_conflict() {
        let (mut phone, mut server, worker, desk) = fork_pair();
        phone
            .update(&worker, |r| {
                r.category = "housing".into();
                r.title = "Loud music".into();
                Ok(())
            })
            .unwrap();
        server
            .update(&desk, |r| {
                r.category = "housing".into();
                r.description = "after midnight".into();
                Ok(())
            })
            .unwrap();
        phone.merge_bytes(&server.save()).unwrap();
        assert!(phone.open_conflicts().is_empty());
    }
}
