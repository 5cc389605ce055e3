//! Stored policies and freezes in memory, with the table's rules (a version written once, a
//! put conditioned on what it read), for fast tests of the gates and the invocation layer.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use jiff::Timestamp;

use super::{FreezeStore, PolicyStore};
use crate::freeze::Freeze;
use crate::layers::{LayerDoc, Scope, StoredLayer};
use crate::ports::store::StoreError;

/// Policies and freezes in memory, for the gates' fast tests and the CLI's dry runs.
#[derive(Debug, Default)]
pub struct InMemoryPolicies {
    layers: Mutex<HashMap<Scope, Vec<StoredLayer>>>,
    pub freezes: Mutex<Vec<Freeze>>,
    /// When set, every read fails with this error (a store that cannot be reached).
    pub failing: Mutex<Option<StoreError>>,
}

impl InMemoryPolicies {
    fn fail(&self) -> Result<(), StoreError> {
        match self.failing.lock().map(|failing| failing.clone()) {
            Ok(Some(error)) => Err(error),
            _ => Ok(()),
        }
    }

    fn locked(&self) -> Result<std::sync::MutexGuard<'_, HashMap<Scope, Vec<StoredLayer>>>, StoreError> {
        self.layers
            .lock()
            .map_err(|_| StoreError::Conflict("the in-memory store was poisoned".into()))
    }
}

impl PolicyStore for InMemoryPolicies {
    async fn current(&self, scopes: &[Scope]) -> Result<Vec<StoredLayer>, StoreError> {
        self.fail()?;
        let layers = self.locked()?;
        Ok(scopes
            .iter()
            .filter_map(|scope| layers.get(scope).and_then(|versions| versions.last().cloned()))
            .collect())
    }

    async fn put(
        &self,
        scope: &Scope,
        doc: &LayerDoc,
        read: i64,
        below: &[(Scope, i64)],
        by: &str,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        self.fail()?;
        let mut layers = self.locked()?;
        let version_of = |layers: &HashMap<Scope, Vec<StoredLayer>>, scope: &Scope| {
            layers
                .get(scope)
                .and_then(|versions| versions.last())
                .map_or(0, |layer| layer.version)
        };
        let current = version_of(&layers, scope);
        if current != read
            || below
                .iter()
                .any(|(lower, version)| version_of(&layers, lower) != *version)
        {
            return Err(StoreError::Conflict(format!(
                "the {} policy changed since version {read} was read",
                scope.label()
            )));
        }
        layers.entry(scope.clone()).or_default().push(StoredLayer {
            scope: scope.clone(),
            version: read + 1,
            updated_at: now,
            updated_by: by.to_string(),
            doc: doc.clone(),
        });
        Ok(read + 1)
    }

    async fn history(&self, scope: &Scope) -> Result<Vec<StoredLayer>, StoreError> {
        self.fail()?;
        Ok(self.locked()?.get(scope).cloned().unwrap_or_default())
    }
}

impl FreezeStore for InMemoryPolicies {
    async fn freezes(&self, now: Timestamp) -> Result<Vec<Freeze>, StoreError> {
        self.fail()?;
        self.freezes
            .lock()
            .map(|freezes| freezes.iter().filter(|freeze| freeze.to > now).cloned().collect())
            .map_err(|_| StoreError::Conflict("the in-memory store was poisoned".into()))
    }
}

impl<T: PolicyStore> PolicyStore for &T {
    fn current(&self, scopes: &[Scope]) -> impl Future<Output = Result<Vec<StoredLayer>, StoreError>> + Send {
        (**self).current(scopes)
    }

    fn put(
        &self,
        scope: &Scope,
        doc: &LayerDoc,
        read: i64,
        below: &[(Scope, i64)],
        by: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send {
        (**self).put(scope, doc, read, below, by, now)
    }

    fn history(&self, scope: &Scope) -> impl Future<Output = Result<Vec<StoredLayer>, StoreError>> + Send {
        (**self).history(scope)
    }
}

impl<T: FreezeStore> FreezeStore for &T {
    fn freezes(&self, now: Timestamp) -> impl Future<Output = Result<Vec<Freeze>, StoreError>> + Send {
        (**self).freezes(now)
    }

    fn consulted(&self) -> bool {
        (**self).consulted()
    }
}
