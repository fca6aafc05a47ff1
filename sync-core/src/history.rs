//! The audit trail of a record, derived from its CRDT history: every change with who made it,
//! from which device, when, and which fields it touched.

use std::collections::BTreeSet;

use automerge::Prop;

use crate::document::{RecordDoc, Writer};

/// One change in a record's history.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HistoryEntry {
    /// The change's hash, hex.
    pub hash: String,
    /// The automerge actor, hex.
    pub actor: String,
    /// Who and which device, from the change message (`None` for changes made by other tools).
    pub user: Option<String>,
    pub device: Option<String>,
    /// When, as the writer's clock said (milliseconds since the Unix epoch; changes record whole
    /// seconds).
    pub at: i64,
    /// The fields the change touched, as dotted paths (`workflow.status`, `description`).
    pub fields: Vec<String>,
}

impl RecordDoc {
    /// Every change, in causal order, with the fields it touched.
    pub fn history(&mut self) -> Vec<HistoryEntry> {
        let changes: Vec<automerge::Change> = self
            .automerge()
            .get_changes(&[])
            .into_iter()
            .cloned()
            .collect();
        let mut out = Vec::with_capacity(changes.len());
        for change in changes {
            let before: Vec<_> = change.deps().to_vec();
            let after = vec![change.hash()];
            let patches = self.automerge().diff(&before, &after);
            let mut fields = BTreeSet::new();
            for patch in patches {
                let mut path: Vec<String> = patch
                    .path
                    .iter()
                    .take(2)
                    .filter_map(|(_, prop)| match prop {
                        Prop::Map(key) => Some(key.clone()),
                        Prop::Seq(_) => None,
                    })
                    .collect();
                if let (true, automerge::PatchAction::PutMap { key, .. }) =
                    (path.len() < 2, &patch.action)
                {
                    path.push(key.clone());
                }
                path.truncate(2);
                if !path.is_empty() {
                    fields.insert(path.join("."));
                }
            }
            let writer = change
                .message()
                .and_then(|m| Writer::from_change_message(m));
            out.push(HistoryEntry {
                hash: change.hash().to_string(),
                actor: change.actor_id().to_hex_string(),
                user: writer.as_ref().map(|w| w.user.clone()),
                device: writer.map(|w| w.device),
                at: change.timestamp().saturating_mul(1000),
                fields: fields.into_iter().collect(),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::{RecordBuilder, RecordDoc, Status, Writer, new_actor};

    #[test]
    fn the_history_says_who_changed_which_field_from_which_device() {
        let worker = Writer::new("wang", "phone-1");
        let dispatcher = Writer::new("zhao", "web");
        let mut doc = RecordDoc::create(
            &RecordBuilder::complaint("Noise", &worker).build(),
            new_actor(),
            &worker,
        )
        .unwrap();
        doc.set_actor(new_actor());
        doc.update(&dispatcher, |r| {
            r.workflow.status = Status::Accepted;
            Ok(())
        })
        .unwrap();
        doc.update(&worker, |r| {
            r.description = "after midnight".into();
            Ok(())
        })
        .unwrap();

        let history = doc.history();
        assert_eq!(history.len(), 3);
        assert_eq!(history[0].user.as_deref(), Some("wang"));
        assert!(history[0].fields.contains(&"title".to_string()));
        assert_eq!(
            (history[1].user.as_deref(), history[1].device.as_deref()),
            (Some("zhao"), Some("web"))
        );
        assert_eq!(history[1].fields, vec!["workflow.status".to_string()]);
        assert_eq!(history[2].fields, vec!["description".to_string()]);
    }
}
