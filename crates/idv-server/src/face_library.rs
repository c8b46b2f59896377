//! The 1:N search indexes of the merchants' face libraries, in memory. The store holds the sealed embeddings; a
//! group's index is built from them on its first search and kept current as faces are added and deleted (every
//! change goes through this server's handlers, which update the store first and the index second, under one lock,
//! so a search never sees a face the store does not hold for longer than the handler takes).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use idv_face::index::{ExactIndex, FaceIndex, Hit};
use idv_store::{FaceGroup, FaceRecord};

use crate::AppState;
use crate::error::ServerError;

/// A registered face as the search reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Face {
    pub face_id: String,
    pub merchant_user_id: String,
    pub group_code: String,
}

#[derive(Default)]
pub(crate) struct GroupIndex {
    index: ExactIndex,
    faces: HashMap<u64, Face>,
}

impl GroupIndex {
    pub(crate) fn search(&self, probe: &[f32], k: usize, min_cosine: f32) -> Vec<(Hit, Face)> {
        self.index
            .search(probe, k, min_cosine)
            .into_iter()
            .filter_map(|h| self.faces.get(&h.id).map(|f| (h, f.clone())))
            .collect()
    }

    fn add(&mut self, r: &FaceRecord, embedding: &[f32]) {
        // One face per user and group: a replaced face (deleted by the store) leaves the index too.
        let old: Vec<u64> =
            self.faces.iter().filter(|(_, f)| f.merchant_user_id == r.merchant_user_id).map(|(&id, _)| id).collect();
        for id in old {
            self.remove(id as i64);
        }
        let id = r.id as u64;
        if self.index.insert(id, embedding) {
            self.faces.insert(
                id,
                Face {
                    face_id: r.face_id.clone(),
                    merchant_user_id: r.merchant_user_id.clone(),
                    group_code: r.group_code.clone(),
                },
            );
        }
    }

    fn remove(&mut self, id: i64) {
        self.index.remove(id as u64);
        self.faces.remove(&(id as u64));
    }
}

#[derive(Default)]
pub(crate) struct Libraries {
    groups: tokio::sync::Mutex<HashMap<i64, Arc<RwLock<GroupIndex>>>>,
}

fn poisoned() -> ServerError {
    ServerError::internal("a face index lock was poisoned by a panic")
}

impl Libraries {
    /// The group's index, built from the store on first use.
    pub(crate) async fn index(
        &self,
        state: &AppState,
        group: &FaceGroup,
    ) -> Result<Arc<RwLock<GroupIndex>>, ServerError> {
        let mut groups = self.groups.lock().await;
        if let Some(ix) = groups.get(&group.id) {
            return Ok(ix.clone());
        }
        let mut ix = GroupIndex::default();
        for (r, e) in state.store.face_embeddings(&group.merchant_id, group.id).await? {
            ix.add(&r, &e);
        }
        let ix = Arc::new(RwLock::new(ix));
        groups.insert(group.id, ix.clone());
        Ok(ix)
    }

    /// After the store registered `r` (replacing the user's earlier face in the group, if any).
    pub(crate) async fn added(&self, r: &FaceRecord, embedding: &[f32]) -> Result<(), ServerError> {
        let groups = self.groups.lock().await;
        if let Some(ix) = groups.get(&r.group_id) {
            ix.write().map_err(|_| poisoned())?.add(r, embedding);
        }
        Ok(())
    }

    /// After the store deleted these faces.
    pub(crate) async fn removed(&self, gone: &[FaceRecord]) -> Result<(), ServerError> {
        let groups = self.groups.lock().await;
        for r in gone {
            if let Some(ix) = groups.get(&r.group_id) {
                ix.write().map_err(|_| poisoned())?.remove(r.id);
            }
        }
        Ok(())
    }

    /// After the store deleted the whole group.
    pub(crate) async fn forget(&self, group_id: i64) {
        self.groups.lock().await.remove(&group_id);
    }
}
