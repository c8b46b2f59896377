//! Face libraries through the merchant API: five real people registered, a new photo of one found as a duplicate
//! with their MerchantUserId, a stranger not; records queried, deleted; another merchant sees nothing
//! (`../shared/realdata/faces`, 11 photos of each of 5 people; read from there, never copied).

use serde_json::Value;

use crate::helpers::{
    Device, META_ANDROID, Merchant, Reply, Server, call_signed, face_b64, genuine_face_round, init_params, map, nonce,
    repo_root, start,
};

fn real_b64(name: &str) -> String {
    let path = repo_root().join("../shared/realdata/faces").join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes)
}

const PEOPLE: [&str; 5] = ["john_salley", "john_savage", "john_schneider", "john_shimkus", "john_simm"];

async fn call(s: &Server, m: &Merchant, action: &str, q: &[(&str, &str)], body: &[(&str, &str)]) -> Reply {
    call_signed(s, m, action, &map(q), &map(body), &nonce()).await
}

async fn add(s: &Server, m: &Merchant, group: &str, user: &str, picture: &str) -> Reply {
    let q = [("ProductCode", "FACE_ENROLL"), ("FaceGroupCode", group), ("MerchantUserId", user)];
    call(s, m, "AddFaceRecord", &q, &[("FacePicture", picture)]).await
}

async fn duplicate_check(s: &Server, m: &Merchant, user: &str, picture: &str, extra: &[(&str, &str)]) -> Reply {
    let mut q = vec![
        ("ProductCode", "FACE_IDU_MIN"),
        ("MerchantBizId", "dup1"),
        ("MerchantUserId", user),
        ("VerifyModel", "1"),
        ("FaceGroupCodes", "members"),
        ("ReturnFaces", "1"),
    ];
    q.extend_from_slice(extra);
    call(s, m, "FaceDuplicationCheckIntl", &q, &[("SourceFacePicture", picture)]).await
}

fn duplicates(r: &Reply) -> Vec<Value> {
    serde_json::from_str(r.json["Result"]["DuplicateFace"].as_str().unwrap_or("[]")).unwrap()
}

#[tokio::test]
async fn five_people_registered_a_new_photo_is_found_a_stranger_is_not_and_merchants_are_apart() {
    let s = start().await;
    let m = s.merchant("A").await;
    for (i, p) in PEOPLE.iter().enumerate() {
        let r = add(&s, &m, "members", &format!("user-{i}"), &real_b64(&format!("{p}01.jpg"))).await;
        assert_eq!((r.status, r.json["Result"]["Passed"].as_str()), (200, Some("Y")), "{p}: {}", r.json);
    }
    // The same user again is refused by name: one face per user and group.
    let again = add(&s, &m, "members", "user-0", &real_b64("john_salley02.jpg")).await;
    assert!(again.json["Message"].as_str().unwrap().contains("already has a face"), "{}", again.json);

    // Another photo of person 2, signing up as a new user: a duplicate, named with the first account.
    let r = duplicate_check(&s, &m, "new-user", &real_b64("john_schneider07.jpg"), &[]).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let res = &r.json["Result"];
    assert_eq!((res["FacePassed"].as_str(), res["SubCode"].as_str()), (Some("N"), Some("211")), "{}", r.json);
    let d = duplicates(&r);
    assert_eq!(d[0]["merchantUserId"], "user-2", "{d:?}");
    assert_eq!(d[0]["faceGroupCode"], "members");
    assert!(d.iter().all(|x| x["merchantUserId"] == "user-2"), "nobody else matches: {d:?}");

    // The same person as the same user is not a duplicate of themselves.
    let r = duplicate_check(&s, &m, "user-2", &real_b64("john_schneider07.jpg"), &[]).await;
    assert_eq!(r.json["Result"]["SubCode"], "200", "{}", r.json);

    // A stranger (not in the group): unique, and registered when asked.
    let reg = [("AutoRegistration", "1"), ("FaceRegisterGroupCode", "members")];
    let r = duplicate_check(&s, &m, "user-9", &face_b64("obama.jpg"), &reg).await;
    let res = &r.json["Result"];
    assert_eq!((res["FacePassed"].as_str(), res["SubCode"].as_str()), (Some("Y"), Some("200")), "{}", r.json);
    assert!(duplicates(&r).is_empty(), "{}", r.json);
    assert_eq!(res["FaceRegistrationResult"], 1, "{}", r.json);
    let registered = res["FaceRegistrationId"].as_str().unwrap().to_owned();
    // ... so the next photo of him under another account is a duplicate.
    let r = duplicate_check(&s, &m, "user-10", &face_b64("obama2.jpg"), &[]).await;
    assert_eq!(r.json["Result"]["SubCode"], "211", "{}", r.json);
    assert_eq!(duplicates(&r)[0]["faceId"], registered.as_str());

    // FaceVerifyIntl 1:1 against the user's own registered face: the same person passes, another fails.
    let verify = |user: &'static str, pic: String| {
        let s = &s;
        let m = &m;
        async move {
            let q = [
                ("ProductCode", "FACE_VERIFY_MIN"),
                ("MerchantUserId", user),
                ("FaceGroupCodes", "members"),
                ("VerifyModel", "0"),
            ];
            call(s, m, "FaceVerifyIntl", &q, &[("SourceFacePicture", &pic)]).await
        }
    };
    let r = verify("user-1", real_b64("john_savage05.jpg")).await;
    assert_eq!(r.json["Result"]["FacePassed"], "Y", "{}", r.json);
    let r = verify("user-1", real_b64("john_simm05.jpg")).await;
    assert_eq!(
        (r.json["Result"]["FacePassed"].as_str(), r.json["Result"]["SubCode"].as_str()),
        (Some("N"), Some("204"))
    );
    let r = verify("nobody", real_b64("john_simm05.jpg")).await;
    assert_eq!(r.json["Result"]["SubCode"], "203", "no registered face to compare with: {}", r.json);

    // Query, page by page; then delete by id and by user.
    let q = [("FaceGroupCode", "members"), ("CurrentPage", "1"), ("PageSize", "4")];
    let page = call(&s, &m, "QueryFaceRecord", &q, &[]).await;
    assert_eq!(page.status, 200, "{}", page.json);
    assert_eq!(
        (page.json["TotalCount"].as_i64(), page.json["TotalPage"].as_i64()),
        (Some(6), Some(2)),
        "{}",
        page.json
    );
    assert_eq!(page.json["Items"].as_array().unwrap().len(), 4);
    let first_id = page.json["Items"][0]["Id"].as_i64().unwrap().to_string();
    let del = call(&s, &m, "DeleteFaceRecord", &[("Id", &first_id)], &[]).await;
    assert_eq!(del.json["Data"], 1, "{}", del.json);
    // user-0 is gone from the search at once.
    let r = duplicate_check(&s, &m, "new-user", &real_b64("john_salley05.jpg"), &[]).await;
    assert_eq!(r.json["Result"]["SubCode"], "200", "a deleted face is not found: {}", r.json);
    let v2 = call(&s, &m, "DeleteFaceRecordV2", &[("MerchantUserId", "user-2")], &[]).await;
    assert_eq!(
        (v2.json["Result"]["Deleted"].as_str(), v2.json["Result"]["DeletedGroupCodes"].as_str()),
        (Some("Y"), Some("members"))
    );
    let groups = call(&s, &m, "QueryFaceGroup", &[("CurrentPage", "1"), ("PageSize", "10")], &[]).await;
    assert_eq!(groups.json["Items"][0]["Code"], "members", "{}", groups.json);
    let gid = groups.json["Items"][0]["Id"].as_i64().unwrap().to_string();
    let renamed =
        call(&s, &m, "ModifyFaceGroup", &[], &[("Id", &gid), ("Name", "Members"), ("Description", "d")]).await;
    assert_eq!(renamed.json["Data"], 1, "{}", renamed.json);

    // Another merchant sees no group, no record, no duplicate, and cannot delete.
    let other = s.merchant("B").await;
    let r = duplicate_check(&s, &other, "x", &real_b64("john_simm07.jpg"), &[]).await;
    assert_eq!(r.json["Result"]["SubCode"], "200", "{}", r.json);
    let none = call(&s, &other, "QueryFaceGroup", &[("CurrentPage", "1"), ("PageSize", "10")], &[]).await;
    assert_eq!(none.json["TotalCount"], 0, "{}", none.json);
    let theirs = call(
        &s,
        &other,
        "QueryFaceRecord",
        &[("FaceGroupCode", "members"), ("CurrentPage", "1"), ("PageSize", "10")],
        &[],
    )
    .await;
    assert_eq!(theirs.status, 400, "{}", theirs.json);
    let steal = call(&s, &other, "DeleteFaceGroup", &[("Id", &gid)], &[]).await;
    assert_eq!(steal.status, 400, "{}", steal.json);
    // ModifyFaceRecord needs the vendor's OSS: refused by name.
    let oss = call(&s, &m, "ModifyFaceRecord", &[("FaceGroupCode", "members"), ("ImgOssInfos", "[]")], &[]).await;
    assert!(oss.json["Message"].as_str().unwrap().contains("ImgOssInfos"), "{}", oss.json);

    // Deleting the group deletes its faces.
    let gone = call(&s, &m, "DeleteFaceGroup", &[("Id", &gid)], &[]).await;
    assert_eq!(gone.json["Data"], 1, "{}", gone.json);
    let r = duplicate_check(&s, &m, "new-user", &real_b64("john_simm07.jpg"), &[]).await;
    assert_eq!(r.json["Result"]["SubCode"], "200", "{}", r.json);
    s.stop().await;
}

/// One FACE_LIVENESS transaction for `user` with `extra` Initialize parameters, the live head of `portrait`
/// answering the issued challenge; returns CheckResult's Result.
async fn live_transaction(
    s: &Server,
    m: &Merchant,
    user: &str,
    portrait: &str,
    extra: &[(&str, &str)],
    seed: u64,
) -> Value {
    let mut params: Vec<(&str, &str)> =
        init_params("FACE_LIVENESS", META_ANDROID).into_iter().filter(|(k, _)| *k != "MerchantUserId").collect();
    params.push(("MerchantUserId", user));
    params.extend_from_slice(extra);
    let (mut dev, tid) = Device::initialized(s, m, &params, &map(&[])).await;
    let next = dev.start().await["next"].clone();
    let (st, answer) = genuine_face_round(&dev, &next, portrait, seed, serde_json::json!({})).await;
    assert_eq!((st, answer["outcome"].as_str()), (200, Some("done")), "{answer}");
    let c = call(s, m, "CheckResult", &[("MerchantBizId", "biz0001"), ("TransactionId", &tid)], &[]).await;
    c.json["Result"].clone()
}

/// Initialize's face-library options: the device flow's live face is searched in the merchant's groups; another
/// user's face there fails the verdict with SubCode 211 and names the match; a passing face joins the register
/// group with AutoRegistration, and then is found as a duplicate itself.
#[tokio::test]
async fn the_device_flow_finds_duplicates_and_registers_passing_faces() {
    let s = start().await;
    let m = s.merchant("A").await;
    let r = add(&s, &m, "members", "first", &face_b64("astronaut.png")).await;
    assert_eq!(r.json["Result"]["Passed"], "Y", "{}", r.json);

    let search = [("FaceGroupCodes", "members")];
    let res = live_transaction(&s, &m, "second", "astronaut.png", &search, 61).await;
    assert_eq!((res["Passed"].as_str(), res["SubCode"].as_str()), (Some("N"), Some("211")), "{res}");
    let face: Value = serde_json::from_str(res["ExtFaceInfo"].as_str().unwrap()).unwrap();
    assert_eq!(face["duplicateFace"][0]["merchantUserId"], "first", "{face}");
    // The registered user herself is not her own duplicate.
    let res = live_transaction(&s, &m, "first", "astronaut.png", &search, 62).await;
    assert_eq!(res["SubCode"], "200", "{res}");

    // Someone new passes and, with AutoRegistration, joins the group ...
    let register = [("FaceGroupCodes", "members"), ("FaceRegisterGroupCode", "members"), ("AutoRegistration", "1")];
    let res = live_transaction(&s, &m, "third", "biden.jpg", &register, 63).await;
    assert_eq!(res["SubCode"], "200", "{res}");
    let q = [("FaceGroupCode", "members"), ("MerchantUserId", "third"), ("CurrentPage", "1"), ("PageSize", "10")];
    let rec = call(&s, &m, "QueryFaceRecord", &q, &[]).await;
    assert_eq!(
        (rec.json["TotalCount"].as_i64(), rec.json["Items"][0]["RegistrationType"].as_str()),
        (Some(1), Some("AUTO")),
        "{}",
        rec.json
    );
    // ... so the same face under a fourth account is a duplicate of the third.
    let res = live_transaction(&s, &m, "fourth", "biden.jpg", &search, 64).await;
    assert_eq!(res["SubCode"], "211", "{res}");
    // A product without a face step cannot ask for a search.
    let mut p = init_params("ID_OCR", META_ANDROID);
    p.push(("FaceGroupCodes", "members"));
    let r = call_signed(&s, &m, "Initialize", &map(&p), &map(&[]), &nonce()).await;
    assert!(r.json["Message"].as_str().unwrap_or_default().contains("FaceGroupCodes"), "{}", r.json);
    s.stop().await;
}
