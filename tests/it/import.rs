//! Bulk import of units and owners (foundation §3): CSV in UTF-8, UTF-8 with BOM and GBK,
//! XLSX; a dry run lists every bad row; the real import is all or nothing.

use crate::harness::TestApp;
use huiqian::domain::auth::Role;
use serde_json::Value;

const GOOD: &str = "房号,楼层,建筑面积,状态,姓名,手机,证件类型,证件号码,工作单位,通讯地址,关系\n\
3-1-101,1,89.50,入住,王秀英,13812345678,身份证,11010519491231002X,某某科技,北京市朝阳区望京西园,业主\n\
3-1-101,1,89.50,入住,王小明,13812340000,,,,,家属\n\
3-1-102,,76.2,空置,,,,,,,\n\
12-0801,8,120,装修,李建国,13998765432,,,,,业主\n";

async fn upload(c: &crate::harness::Client, community: i64, name: &str, bytes: Vec<u8>, dry_run: bool) -> (u16, Value) {
    let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_string());
    let form = reqwest::multipart::Form::new().part("file", part);
    let r = c
        .http
        .post(c.url(&format!("/api/v1/communities/{community}/imports?dry_run={dry_run}")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn utf8_csv_dry_run_then_import() {
    let t = TestApp::spawn().await;
    let m = t.as_role(Role::CsManager).await;
    let (s, r) = upload(&m, t.c1, "units.csv", GOOD.as_bytes().to_vec(), true).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["errors"].as_array().unwrap().len(), 0, "{r}");
    assert_eq!(
        (r["rows"].as_i64(), r["units_new"].as_i64(), r["buildings_new"].as_i64(), r["persons_new"].as_i64()),
        (Some(4), Some(3), Some(2), Some(3))
    );
    assert_eq!(r["applied"], false);
    assert_eq!(t.count("units").await, 0, "a dry run writes nothing");
    let (s, r) = upload(&m, t.c1, "units.csv", GOOD.as_bytes().to_vec(), false).await;
    assert_eq!(s, 200);
    assert_eq!(r["applied"], true);
    assert_eq!(t.count("units").await, 3);
    assert_eq!(t.count("persons").await, 3);
    assert_eq!(t.count("occupancies").await, 3);
    // Imported people are found like any other, and their data is masked.
    let (_, found) = m.get_json(&format!("/api/v1/communities/{}/persons?q=13812345678", t.c1)).await;
    assert_eq!(found[0]["name"], "王秀英");
    assert_eq!(found[0]["id_masked"], "110***********002X");
    let (_, u) = m.get_json(&format!("/api/v1/communities/{}/units?room=12-", t.c1)).await;
    assert_eq!(u[0]["status"], "renovating");
    assert_eq!(u[0]["floor"], 8);
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'import.applied'")
        .fetch_one(t.app.store.read())
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn bom_and_gbk_csv_are_read() {
    let t = TestApp::spawn().await;
    let m = t.as_role(Role::CsManager).await;
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(GOOD.as_bytes());
    let (_, r) = upload(&m, t.c1, "bom.csv", bom, true).await;
    assert_eq!(r["errors"].as_array().unwrap().len(), 0, "{r}");
    let (gbk, _, bad) = encoding_rs::GBK.encode(GOOD);
    assert!(!bad);
    let (_, r) = upload(&m, t.c1, "excel-gbk.csv", gbk.into_owned(), false).await;
    assert_eq!(r["errors"].as_array().unwrap().len(), 0, "{r}");
    let (_, found) = m.get_json(&format!("/api/v1/communities/{}/persons?q=李建国", t.c1)).await;
    assert_eq!(found.as_array().unwrap().len(), 1, "GBK names decoded");
}

#[tokio::test]
async fn xlsx_is_read_with_numbers_as_excel_stores_them() {
    let t = TestApp::spawn().await;
    let m = t.as_role(Role::CsManager).await;
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in ["房号", "楼层", "建筑面积", "姓名", "手机"].iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    ws.write_string(1, 0, "5-2-1801").unwrap();
    ws.write_number(1, 1, 18.0).unwrap();
    ws.write_number(1, 2, 98.65).unwrap();
    ws.write_string(1, 3, "张伟").unwrap();
    ws.write_number(1, 4, 13700001234.0).unwrap();
    let bytes = wb.save_to_buffer().unwrap();
    let (s, r) = upload(&m, t.c1, "业主名册.xlsx", bytes, false).await;
    assert_eq!(s, 200);
    assert_eq!(r["errors"].as_array().unwrap().len(), 0, "{r}");
    let (_, found) = m.get_json(&format!("/api/v1/communities/{}/persons?q=1234", t.c1)).await;
    assert_eq!(found[0]["phone_masked"], "137****1234");
}

#[tokio::test]
async fn every_bad_row_is_reported_and_nothing_is_written() {
    let t = TestApp::spawn().await;
    let m = t.as_role(Role::CsManager).await;
    let csv = "房号,建筑面积,姓名,手机,证件号码\n\
1-1-101,80,赵一,13800000001,\n\
1-1-10x,80,钱二,13800000002,\n\
1-1-103,-5,孙三,1380000,\n\
1-1-104,80,李四,13800000004,110105194912310021\n\
1-1-105,80,周五,13800000005,\n";
    let (s, r) = upload(&m, t.c1, "bad.csv", csv.as_bytes().to_vec(), false).await;
    assert_eq!(s, 200);
    assert_eq!(r["applied"], false);
    let errs: Vec<(i64, String, String)> = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_i64().unwrap(), e["column"].as_str().unwrap().into(), e["code"].as_str().unwrap().into()))
        .collect();
    assert!(
        errs.contains(&(3, "房号".into(), "room_no.room".into())) || errs.iter().any(|e| e.0 == 3 && e.1 == "房号"),
        "{errs:?}"
    );
    assert!(errs.iter().any(|e| e.0 == 4 && e.1 == "建筑面积"), "{errs:?}");
    assert!(errs.iter().any(|e| e.0 == 4 && e.1 == "手机"), "{errs:?}");
    assert!(errs.iter().any(|e| e.0 == 5 && e.1 == "证件号码" && e.2 == "id_number.bad_check_digit"), "{errs:?}");
    assert!(!errs.iter().any(|e| e.0 == 2 || e.0 == 6), "good rows are not reported: {errs:?}");
    assert_eq!(t.count("units").await, 0);
    assert_eq!(t.count("persons").await, 0);
    assert_eq!(t.count("buildings").await, 0);
}

#[tokio::test]
async fn missing_columns_existing_rooms_and_permissions() {
    let t = TestApp::spawn().await;
    let m = t.as_role(Role::CsManager).await;
    let (_, r) = upload(&m, t.c1, "x.csv", "姓名,手机\n王,13800000000\n".as_bytes().to_vec(), true).await;
    assert_eq!(r["errors"][0]["code"], "import.missing_column");
    upload(&m, t.c1, "a.csv", GOOD.as_bytes().to_vec(), false).await;
    let (_, r) = upload(&m, t.c1, "a.csv", GOOD.as_bytes().to_vec(), true).await;
    assert!(r["errors"].as_array().unwrap().iter().any(|e| e["code"] == "unit.room_taken"));
    let desk = t.as_role(Role::Receptionist).await;
    let (s, _) = upload(&desk, t.c1, "a.csv", GOOD.as_bytes().to_vec(), true).await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn oversized_upload_is_refused_with_a_clear_error() {
    let t = TestApp::spawn_with(|c| c.limits.max_upload_bytes = 64 * 1024).await;
    let m = t.as_role(Role::CsManager).await;
    let mut big = GOOD.as_bytes().to_vec();
    big.resize(200 * 1024, b'\n');
    let (s, r) = upload(&m, t.c1, "big.csv", big, true).await;
    assert!(s == 413 || s == 422, "{s} {r}");
    assert_eq!(t.count("units").await, 0);
}

/// A damaged spreadsheet that made the spreadsheet reader panic (found by fuzzing,
/// `fuzz/seeds/import/calamine-index-out-of-bounds`) is refused as unreadable, the
/// server answering as always.
#[tokio::test]
async fn a_damaged_spreadsheet_is_refused_as_unreadable() {
    let t = TestApp::spawn().await;
    let m = t.as_role(Role::CsManager).await;
    let seed =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/import/calamine-index-out-of-bounds")).unwrap();
    // The seed's first byte chose the file name for the fuzzer.
    let (s, r) = upload(&m, t.c1, "业主名册.xlsx", seed[1..].to_vec(), true).await;
    assert_eq!(s, 422, "{r}");
    assert_eq!(
        (r["error"]["fields"][0]["field"].as_str(), r["error"]["fields"][0]["code"].as_str()),
        (Some("file"), Some("import.unreadable"))
    );
    assert_eq!(t.count("units").await, 0);
}
