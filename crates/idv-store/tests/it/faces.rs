//! Face libraries in the store: embeddings sealed at rest, one face per user and group, merchant isolation, and
//! deletion by id, by user, by group and by retention.

use idv_store::{AddFace, FaceRecordFilter, NewFaceRecord, Store};

use crate::{NOW, fresh};

fn embedding(seed: f32) -> Vec<f32> {
    // A recognisable byte pattern: 1234.5 + seed as little-endian floats, searched for in the file below.
    (0..128).map(|i| 1234.5 + seed + i as f32).collect()
}

fn new<'a>(merchant: &'a str, group: &'a str, user: &'a str, e: &'a [f32], replace: bool) -> NewFaceRecord<'a> {
    NewFaceRecord {
        merchant_id: merchant,
        group_code: group,
        merchant_user_id: user,
        registration_type: "MANUAL",
        embedding: e,
        replace,
        now: NOW,
        retain_until: NOW + 100,
    }
}

#[tokio::test]
async fn faces_are_sealed_scoped_replaced_and_deleted_with_their_group_and_retention() {
    let (dir, store, _) = fresh().await;
    let a = store.create_merchant("A", NOW).await.unwrap();
    let b = store.create_merchant("B", NOW).await.unwrap();
    let (e1, e2, e3) = (embedding(1.0), embedding(2.0), embedding(3.0));
    let AddFace::Added(r1) = store.add_face_record(new(&a.id, "g", "u1", &e1, false)).await.unwrap() else {
        panic!("not added")
    };
    assert!(matches!(store.add_face_record(new(&a.id, "g", "u1", &e2, false)).await.unwrap(), AddFace::UserExists(_)));
    let AddFace::Added(r1b) = store.add_face_record(new(&a.id, "g", "u1", &e2, true)).await.unwrap() else {
        panic!("not replaced")
    };
    assert_ne!(r1.face_id, r1b.face_id);
    store.add_face_record(new(&a.id, "g", "u2", &e3, false)).await.unwrap();
    let group = store.face_group(&a.id, "g", None).await.unwrap().unwrap();
    let faces = store.face_embeddings(&a.id, group.id).await.unwrap();
    assert_eq!(faces.len(), 2);
    assert!(faces.iter().any(|(r, e)| r.merchant_user_id == "u1" && *e == e2), "the replacement is what is kept");

    // Another merchant sees neither the group nor its faces, and deletes nothing.
    assert!(store.face_group(&b.id, "g", None).await.unwrap().is_none());
    assert!(store.face_embeddings(&b.id, group.id).await.unwrap().is_empty());
    assert!(store.delete_face_record(&b.id, r1b.id).await.unwrap().is_none());
    assert!(!store.delete_face_group(&b.id, group.id).await.unwrap());

    // Sealed: no embedding's bytes in the database file or its log.
    let mut bytes = std::fs::read(dir.path().join("idv.sqlite3")).unwrap();
    bytes.extend(std::fs::read(dir.path().join("idv.sqlite3-wal")).unwrap_or_default());
    let needle: Vec<u8> = e3[..4].iter().flat_map(|v| v.to_le_bytes()).collect();
    assert!(!bytes.windows(needle.len()).any(|w| w == needle), "an embedding is stored in the clear");

    let filter = FaceRecordFilter { merchant_user_id: Some("u2".into()), ..Default::default() };
    assert_eq!(store.face_records(&a.id, group.id, &filter, 0, 10).await.unwrap().1, 1);
    assert_eq!(store.delete_user_faces(&a.id, None, "u2").await.unwrap().len(), 1);
    // Retention: nothing is due before the deadline, everything after.
    assert!(store.delete_expired_faces(NOW + 99, 10).await.unwrap().is_empty());
    let gone = store.delete_expired_faces(NOW + 100, 10).await.unwrap();
    assert_eq!(gone.iter().map(|r| r.face_id.as_str()).collect::<Vec<_>>(), [r1b.face_id.as_str()]);
    store.add_face_record(new(&a.id, "g", "u3", &e1, false)).await.unwrap();
    assert!(store.delete_face_group(&a.id, group.id).await.unwrap());
    assert!(store.face_embeddings(&a.id, group.id).await.unwrap().is_empty(), "a group's faces go with it");
    assert!(store.add_face_record(new(&a.id, "g", "u4", &[0.0; 3], false)).await.is_err(), "wrong size refused");
}
