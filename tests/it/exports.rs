//! The ledgers' downloads (R-SHEET-4, R-REP-1, R-CMP-5, R-RECV-3, R-FU-5, R-CMP-8) over
//! HTTP on both backends: every ledger page offers XLSX and CSV, both follow the page's
//! filters and order, and both say what the page and the API say, cell for cell.

use crate::harness::{Client, TestApp};
use crate::sheets::{SIGNATURE, act, department, register, register_kind, setup};
use calamine::{Data, Reader, Xlsx};
use huiqian::domain::auth::Role;
use huiqian::i18n::{Lang, t as msg};
use serde_json::{Value, json};
use std::io::{Cursor, Read};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// A downloaded file.
struct File {
    content_type: String,
    disposition: String,
    body: Vec<u8>,
}

async fn fetch(c: &Client, path: &str) -> File {
    let r = c.get(path).await;
    assert_eq!(r.status(), 200, "{path}");
    let header = |name: &str| r.headers().get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let (content_type, disposition) = (header("content-type"), header("content-disposition"));
    File { content_type, disposition, body: r.bytes().await.unwrap().to_vec() }
}

fn cell(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Float(f) if f.fract() == 0.0 => format!("{}", *f as i64),
        other => other.to_string(),
    }
}

/// The worksheet's name and rows, the header first.
fn xlsx_rows(body: &[u8]) -> (String, Vec<Vec<String>>) {
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(body.to_vec())).unwrap();
    let name = book.sheet_names()[0].clone();
    let range = book.worksheet_range(&name).unwrap();
    (name, range.rows().map(|r| r.iter().map(cell).collect()).collect())
}

fn csv_rows(body: &[u8]) -> Vec<Vec<String>> {
    assert!(body.starts_with(b"\xEF\xBB\xBF"), "a BOM, so that Excel on Chinese Windows reads UTF-8");
    let mut r = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(&body[3..]);
    r.records().map(|x| x.unwrap().iter().map(str::to_string).collect()).collect()
}

/// A part of the XLSX package, as text.
fn xlsx_part(body: &[u8], name: &str) -> String {
    let mut zip = zip::ZipArchive::new(Cursor::new(body.to_vec())).unwrap();
    let mut s = String::new();
    zip.by_name(name).unwrap().read_to_string(&mut s).unwrap();
    s
}

/// Both downloads of a ledger page (`path` has its query): the same rows in each, the
/// right types; the XLSX rows are returned, the header first.
async fn downloads(c: &Client, path: &str) -> Vec<Vec<String>> {
    let x = fetch(c, &format!("{path}&format=xlsx")).await;
    assert_eq!(x.content_type, XLSX);
    assert!(
        x.disposition.starts_with("attachment; filename=\"") && x.disposition.contains(".xlsx\"; filename*=UTF-8''")
    );
    let (_, rows) = xlsx_rows(&x.body);
    let s = fetch(c, &format!("{path}&format=csv")).await;
    assert!(s.content_type.starts_with("text/csv"));
    assert!(s.disposition.contains(".csv\"; filename*=UTF-8''"));
    // Excel leaves trailing empty cells out of a row.
    let trim = |rows: &[Vec<String>]| -> Vec<Vec<String>> {
        rows.iter().map(|r| r[..r.iter().rposition(|v| !v.is_empty()).map_or(0, |i| i + 1)].to_vec()).collect()
    };
    let (trimmed, csv_trimmed) = (trim(&rows), trim(&csv_rows(&s.body)));
    assert_eq!(trimmed, csv_trimmed, "the XLSX and the CSV of {path} agree");
    rows
}

/// HTML entities as the templates write them: named, decimal and hexadecimal.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let Some(end) = rest[i..].find(';') else {
            out.push_str(&rest[i..]);
            return out;
        };
        let entity = &rest[i + 1..i + end];
        let ch = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16).ok().and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match ch {
            Some(c) => out.push(c),
            None => out.push_str(&rest[i..=i + end]),
        }
        rest = &rest[i + end + 1..];
    }
    out.push_str(rest);
    out
}

/// The text of a tag's content, its inner tags and the sort mark left out.
fn text_of(s: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for ch in s.chars() {
        match ch {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => out.push(ch),
            _ => {}
        }
    }
    unescape(out.replace(['▲', '▼'], "").trim())
}

/// The rows of the table `id` of a page, the header first.
fn page_table(html: &str, id: &str) -> Vec<Vec<String>> {
    let start = html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no table {id}"));
    let end = start + html[start..].find("</table>").unwrap();
    html[start..end]
        .split("<tr")
        .skip(1)
        .map(|tr| {
            let mut cells = vec![];
            let mut rest = tr;
            while let Some(i) = rest.find("<t") {
                let after = &rest[i + 1..];
                let tag = &after[..2];
                if tag != "td" && tag != "th" {
                    rest = after;
                    continue;
                }
                let open = after.find('>').unwrap();
                let inner = &after[open + 1..];
                let close = inner.find(&format!("</{tag}>")).unwrap();
                cells.push(text_of(&inner[..close]));
                rest = &inner[close + 5..];
            }
            cells
        })
        .collect()
}

fn column(rows: &[Vec<String>], i: usize) -> Vec<String> {
    rows.iter().skip(1).map(|r| r.get(i).cloned().unwrap_or_default()).collect()
}

fn zh(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| msg(Lang::Zh, k).to_string()).collect()
}

/// R-SHEET-4: the handover ledger (会签单交接记录本) downloads as XLSX and CSV with the
/// API's rows; the workbook has a bold, filled, frozen header with filter buttons and wider
/// columns for longer Chinese text; the downloads follow the page's filter and order.
#[tokio::test]
async fn r_sheet_4_handover_ledger_downloads() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let tech = t.as_role(Role::Technician).await;
    let eng = department(&desk, t.c1, "engineering").await;
    let mut sheets = vec![];
    for reason in ["卫生间漏水到楼下", "客厅灯不亮", "入户门锁损坏"] {
        let v = register(&desk, t.c1, "phone", reason).await;
        let (s, v) = act(
            &desk,
            &v,
            json!({"action": "dispatch", "department_id": eng, "opinion": format!("请工程部处理：{reason}")}),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        sheets.push(v);
    }
    let (_, v) = act(&tech, &sheets[0], json!({"action": "acknowledge", "handover": 1})).await;
    let (s, v) = act(
        &tech,
        &v,
        json!({"action": "return", "handover": 1, "result": "已更换三角阀，楼下不再渗水", "signer": "李师傅"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");

    let c1 = t.c1;
    let (_, api) = desk.get_json(&format!("/api/v1/communities/{c1}/handovers")).await;
    let api = api.as_array().unwrap();
    assert_eq!(api.len(), 3);
    let x = fetch(&desk, &format!("/handovers?community_id={c1}&format=xlsx")).await;
    assert!(
        x.disposition.contains("filename=\"handover-ledger.xlsx\"")
            && x.disposition
                .contains("filename*=UTF-8''%E4%BC%9A%E7%AD%BE%E5%8D%95%E4%BA%A4%E6%8E%A5%E8%AE%B0%E5%BD%95%E6%9C%AC"),
        "the file is named in Chinese, with an ASCII name beside it: {}",
        x.disposition
    );
    let (sheet_name, _) = xlsx_rows(&x.body);
    assert_eq!(sheet_name, "会签单交接记录本");
    let rows = downloads(&desk, &format!("/handovers?community_id={c1}")).await;
    assert_eq!(
        rows[0],
        zh(&[
            "ledger.number",
            "ledger.no",
            "ledger.department",
            "ledger.handed_over_at",
            "ledger.handed_over_by",
            "ledger.opinion",
            "ledger.acknowledged_at",
            "ledger.acknowledged_by",
            "ledger.returned_at",
            "ledger.returned_by",
            "ledger.result",
            "ledger.signer",
            "ledger.received_back",
            "ledger.received_back_by",
            "common.status",
        ])
    );
    assert_eq!(rows.len(), 1 + api.len());
    for (row, h) in rows[1..].iter().zip(api) {
        assert_eq!(row[0], h["number"].as_str().unwrap());
        assert_eq!(row[1], h["no"].to_string());
        assert_eq!(row[2], h["department_name"].as_str().unwrap());
        assert_eq!(row[5], h["opinion"].as_str().unwrap());
        assert_eq!(row[14], msg(Lang::Zh, &format!("handover.{}", h["state"].as_str().unwrap())));
    }
    let returned = rows.iter().find(|r| r[0] == sheets[0]["sheet"]["number"].as_str().unwrap()).unwrap();
    assert_eq!((returned[10].as_str(), returned[11].as_str()), ("已更换三角阀，楼下不再渗水", "李师傅"));
    assert_eq!(returned[7], "测试维修工");

    // The workbook's look: frozen bold header with a fill and filter buttons, widths.
    let sheet_xml = xlsx_part(&x.body, "xl/worksheets/sheet1.xml");
    assert!(sheet_xml.contains("ySplit=\"1\"") && sheet_xml.contains("state=\"frozen\""), "{sheet_xml}");
    assert!(sheet_xml.contains("<autoFilter ref=\"A1:O4\"/>"), "{sheet_xml}");
    // `<col min="2" max="3" width="12.7109375" …/>`: neighbours of one width share an entry.
    let width = |col: usize| -> f64 {
        let attr = |tag: &str, name: &str| -> f64 {
            let at = tag.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
            tag[at..].split('"').next().unwrap().parse().unwrap()
        };
        sheet_xml
            .split("<col ")
            .skip(1)
            .find(|tag| (attr(tag, "min")..=attr(tag, "max")).contains(&(col as f64)))
            .map(|tag| attr(tag, "width"))
            .unwrap_or_else(|| panic!("column {col}: {sheet_xml}"))
    };
    assert!(width(6) > width(2), "the opinions are wider than the sequence numbers");
    assert!(width(6) >= 30.0, "「请工程部处理：卫生间漏水到楼下」 is 30 characters wide");
    assert!(width(6) <= 61.0);
    let styles = xlsx_part(&x.body, "xl/styles.xml");
    assert!(styles.contains("<b/>") && styles.contains("FFDDEBF7"), "{styles}");

    // The page's filter and order.
    let rows = downloads(&desk, &format!("/handovers?community_id={c1}&state=returned")).await;
    assert_eq!(column(&rows, 0), [sheets[0]["sheet"]["number"].as_str().unwrap()]);
    let mut numbers: Vec<String> = api.iter().map(|h| h["number"].as_str().unwrap().to_string()).collect();
    numbers.sort();
    let rows = downloads(&desk, &format!("/handovers?community_id={c1}&sort=number&dir=asc")).await;
    assert_eq!(column(&rows, 0), numbers);
    numbers.reverse();
    let rows = downloads(&desk, &format!("/handovers?community_id={c1}&sort=number&dir=desc")).await;
    assert_eq!(column(&rows, 0), numbers);
    let rows = downloads(&desk, &format!("/handovers?community_id={c1}&sort=nonsense&dir=asc")).await;
    assert_eq!(column(&rows, 0), column(&downloads(&desk, &format!("/handovers?community_id={c1}")).await, 0));

    // The page: sortable headers and both buttons, which keep the order.
    let html = desk.get(&format!("/handovers?community_id={c1}&sort=number&dir=desc")).await.text().await.unwrap();
    assert!(html.contains("导出 Excel") && html.contains("导出 CSV"));
    assert!(
        html.contains(&format!("href=\"/handovers?community_id={c1}&#38;sort=number&#38;dir=desc&amp;format=xlsx\"")),
        "{html}"
    );
    assert!(
        html.contains(&format!("href=\"/handovers?community_id={c1}&#38;sort=number&#38;dir=asc\"")),
        "a second click reverses"
    );
    assert!(html.contains("aria-sort=\"descending\""));
    let page = page_table(&html, "ledger");
    let shown: Vec<String> = page.iter().skip(1).map(|r| r[0].split(' ').next().unwrap().to_string()).collect();
    assert_eq!(shown, numbers, "the page is in the same order");
}

/// R-SHEET-4: an export longer than one page of reads has every row once, in the ledger's
/// order, in both formats.
#[tokio::test]
async fn r_sheet_4_handover_export_reads_page_after_page() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let eng = department(&desk, t.c1, "engineering").await;
    let v = register(&desk, t.c1, "phone", "楼道灯不亮").await;
    let (s, v) = act(&desk, &v, json!({"action": "dispatch", "department_id": eng, "opinion": "请查看"})).await;
    assert_eq!(s, 200, "{v}");
    let me = desk.get_json("/api/v1/me").await.1["user"]["id"].as_i64().unwrap();
    let sheet = v["sheet"]["id"].as_i64().unwrap();
    let base = t.now() - 86_400_000;
    // Earlier handovers of the same sheet, straight into the table: 1,200 more rows.
    for chunk in (2..=1201).collect::<Vec<i64>>().chunks(200) {
        let values: Vec<String> = chunk
            .iter()
            .map(|no| {
                format!(
                    "({sheet}, {no}, {}, {eng}, NULL, 'handed_over', '第{no}次交接', {}, {me}, NULL, NULL, NULL, NULL, '', '')",
                    t.c1,
                    base - no * 1000
                )
            })
            .collect();
        sqlx::query(&format!(
            "INSERT INTO sheet_handovers (sheet_id, no, community_id, department_id, to_user_id, state, opinion, \
             handed_over_at, handed_over_by, acknowledged_at, acknowledged_by, returned_at, returned_by, result, signer) \
             VALUES {}",
            values.join(", ")
        ))
        .execute(t.app.store.read())
        .await
        .unwrap();
    }
    let (_, api) = desk.get_json(&format!("/api/v1/communities/{}/handovers?limit=5000", t.c1)).await;
    let expected: Vec<String> = api.as_array().unwrap().iter().map(|h| h["no"].to_string()).collect();
    assert_eq!(expected.len(), 1201);
    let rows = downloads(&desk, &format!("/handovers?community_id={}", t.c1)).await;
    assert_eq!(column(&rows, 1), expected);
    assert_eq!(rows[1201][5], "第1201次交接");
    let rows = downloads(&desk, &format!("/handovers?community_id={}&sort=handed_over_at&dir=asc", t.c1)).await;
    let mut reversed = expected.clone();
    reversed.reverse();
    assert_eq!(column(&rows, 1), reversed);
    // The API's CSV reads page after page too.
    let csv = fetch(&desk, &format!("/api/v1/communities/{}/handovers?format=csv", t.c1)).await;
    assert_eq!(column(&csv_rows(&csv.body), 1), expected);
    let csv = fetch(&desk, &format!("/api/v1/communities/{}/handovers?format=csv&offset=1000&limit=150", t.c1)).await;
    assert_eq!(column(&csv_rows(&csv.body), 1), expected[1000..1150]);
}

async fn repair(c: &Client, community: i64, category: &str, reason: &str) -> Value {
    let (s, v) = c
        .post_json(
            &format!("/api/v1/communities/{community}/sheets"),
            &json!({"kind": "repair", "channel": "phone", "room_no": "3-2-1502", "requester_name": "王秀英",
                    "requester_phone": "13812345678", "reason": reason, "repair": {"category": category}}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    v
}

/// A ledger page and its downloads agree cell for cell; the API lists the same sheets.
async fn page_and_downloads(c: &Client, path: &str, table: &str) -> Vec<Vec<String>> {
    let html = c.get(path).await.text().await.unwrap();
    assert!(html.contains("导出 Excel") && html.contains("导出 CSV"), "{path} offers both downloads");
    let page = page_table(&html, table);
    let rows = downloads(c, path).await;
    let full = |r: &Vec<String>| {
        let mut r = r.clone();
        r.resize(page[0].len(), String::new());
        r
    };
    assert_eq!(rows.iter().map(full).collect::<Vec<_>>(), page, "{path}: the downloads say what the page says");
    rows
}

fn numbers(api: &Value) -> Vec<String> {
    api.as_array().unwrap().iter().map(|j| j["number"].as_str().unwrap().to_string()).collect()
}

/// R-REP-1: the repair ledger (业主报修反映台帐) downloads with the page's columns and rows
/// and the API's sheets, filtered by date and sorted by a column like the page.
#[tokio::test]
async fn r_rep_1_repair_ledger_downloads() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let c1 = t.c1;
    for (category, reason) in [("water", "厨房水管爆裂"), ("electrical", "夜间跳闸"), ("fixtures", "水龙头滴水")]
    {
        repair(&desk, c1, category, reason).await;
    }
    let (_, api) = desk.get_json(&format!("/api/v1/communities/{c1}/request-ledgers/repairs")).await;
    let path = format!("/requests/ledger/repairs?community_id={c1}");
    let rows = page_and_downloads(&desk, &path, "request-ledger").await;
    assert_eq!(rows[0][..4], zh(&["ledger.number", "sheet.registered_at", "unit.room_no", "sheet.requester"]));
    assert_eq!(rows[0].len(), 16);
    assert_eq!(column(&rows, 0), numbers(&api), "newest first, as the API lists them");
    assert_eq!(column(&rows, 3), ["王秀英"; 3]);
    assert_eq!(column(&rows, 2), ["3-2-1502"; 3]);
    let x = fetch(&desk, &format!("{path}&format=xlsx")).await;
    assert_eq!(xlsx_rows(&x.body).0, "业主报修反映台帐");
    assert!(x.disposition.contains("filename=\"repairs-ledger.xlsx\""));

    // Sorted by number, both ways; a date filter that leaves nothing leaves the header.
    let mut sorted = numbers(&api);
    sorted.sort();
    let rows = page_and_downloads(&desk, &format!("{path}&sort=number&dir=asc"), "request-ledger").await;
    assert_eq!(column(&rows, 0), sorted);
    let rows = page_and_downloads(&desk, &format!("{path}&sort=category&dir=desc"), "request-ledger").await;
    assert_eq!(rows.len(), 4);
    let tomorrow = (chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai) + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let rows = downloads(&desk, &format!("{path}&from={tomorrow}")).await;
    assert_eq!(rows.len(), 1, "the header alone");
    // Another ledger's column is not a sort of this one.
    let html = desk.get(&format!("{path}&sort=deadline&dir=desc")).await.text().await.unwrap();
    assert!(!html.contains("aria-sort"));
}

async fn complaint(c: &Client, community: i64, category: &str) -> Value {
    let body = json!({"kind": "complaint", "channel": "phone", "room_no": "3-2-1502", "requester_name": "王秀英",
        "reason": format!("投诉{category}"), "complaint": {"category": category, "cause": "前台态度生硬", "course": "上午十点办理业务时被催促",
        "place": "客服中心前台", "people": "前台接待员", "occurred_unknown": true}});
    let (s, v) = c.post_json(&format!("/api/v1/communities/{community}/sheets"), &body).await;
    assert_eq!(s, 201, "{v}");
    v
}

/// R-CMP-5: the complaint ledger (业主意见投诉台帐) downloads the serious and repeated
/// complaints the page lists, and every complaint when the page shows them all.
#[tokio::test]
async fn r_cmp_5_complaint_ledger_downloads() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let c1 = t.c1;
    for category in ["噪音", "噪音", "停车", "噪音"] {
        complaint(&desk, c1, category).await;
    }
    let (_, flagged) = desk.get_json(&format!("/api/v1/communities/{c1}/request-ledgers/complaints")).await;
    let (_, all) = desk.get_json(&format!("/api/v1/communities/{c1}/request-ledgers/all_complaints")).await;
    let path = format!("/requests/ledger/complaints?community_id={c1}");
    let rows = page_and_downloads(&desk, &path, "request-ledger").await;
    assert_eq!(column(&rows, 0), numbers(&flagged));
    assert_eq!(rows.len(), 2, "the third noise complaint in 90 days");
    assert_eq!(rows[0][4..7], zh(&["complaint.category", "complaint.against", "complaint.flag"]));
    assert_eq!((rows[1][4].as_str(), rows[1][6].is_empty()), ("噪音", false));
    let rows = page_and_downloads(&desk, &format!("{path}&all=1"), "request-ledger").await;
    assert_eq!(column(&rows, 0), numbers(&all));
    assert_eq!(column(&rows, 4), ["噪音", "停车", "噪音", "噪音"]);
    let x = fetch(&desk, &format!("{path}&all=1&format=xlsx")).await;
    assert_eq!(xlsx_rows(&x.body).0, "全部投诉");
}

/// R-RECV-3: the suggestion ledger (住户意见建议台帐) downloads what residents suggested,
/// in Chinese, as the page shows it.
#[tokio::test]
async fn r_recv_3_suggestion_ledger_downloads() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let c1 = t.c1;
    for reason in ["建议增设电动车充电桩", "建议延长游泳池开放时间，夏季到晚上九点"] {
        register_kind(&desk, c1, "suggestion", reason).await;
    }
    let (_, api) = desk.get_json(&format!("/api/v1/communities/{c1}/request-ledgers/suggestions")).await;
    let path = format!("/requests/ledger/suggestions?community_id={c1}");
    let rows = page_and_downloads(&desk, &path, "request-ledger").await;
    assert_eq!(column(&rows, 0), numbers(&api));
    assert_eq!(rows[0][4], msg(Lang::Zh, "sheet.reason"));
    assert_eq!(column(&rows, 4), ["建议延长游泳池开放时间，夏季到晚上九点", "建议增设电动车充电桩"]);
    let rows = page_and_downloads(&desk, &format!("{path}&sort=reason&dir=asc"), "request-ledger").await;
    assert_eq!(rows.len(), 3);
    let x = fetch(&desk, &format!("{path}&format=xlsx")).await;
    assert_eq!(xlsx_rows(&x.body).0, "住户意见建议台帐");
}

/// A complaint judged not the centre's work and collected: it is always followed up.
async fn followed_up_complaint(t: &TestApp, desk: &Client, manager: &Client, content: &str) -> Value {
    let body = json!({"kind": "complaint", "channel": "phone", "room_no": "3-2-1502", "requester_name": "王秀英",
        "requester_phone": "13812345678", "reason": "投诉噪音",
        "complaint": {"category": "噪音", "cause": "楼上夜间噪音", "course": "连续三晚", "occurred_unknown": true, "place_unknown": true, "people_unknown": true}});
    let (s, v) = desk.post_json(&format!("/api/v1/communities/{}/sheets", t.c1), &body).await;
    assert_eq!(s, 201, "{v}");
    let (_, d) = desk.get_json(&format!("/api/v1/sheets/{}", v["id"])).await;
    let (s, d) =
        act(manager, &d, json!({"action": "judge_complaint", "valid": false, "explanation": "邻里纠纷，已解释"})).await;
    assert_eq!(s, 200, "{d}");
    let (s, d) = act(desk, &d, json!({"action": "collect", "opinion": "接受解释", "phone_confirmed_at": 1})).await;
    assert_eq!(s, 200, "{d}");
    let f = d["follow_ups"][0].clone();
    let body = json!({"method": "visit", "outcome": "satisfied", "content": content, "signature": SIGNATURE,
                      "signer": "王秀英", "version": f["version"]});
    let (s, r) = desk.post_json(&format!("/api/v1/follow-ups/{}/record", f["id"]), &body).await;
    assert_eq!(s, 200, "{r}");
    f
}

/// R-FU-5: the follow-up ledger (回访登记台帐) of a period downloads what was recorded in
/// it, as the page and the API list it.
#[tokio::test]
async fn r_fu_5_follow_up_ledger_downloads() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let manager = t.as_role(Role::CsManager).await;
    let c1 = t.c1;
    let start = t.now() - 3_600_000;
    followed_up_complaint(&t, &desk, &manager, "入户回访，已解决").await;
    followed_up_complaint(&t, &desk, &manager, "入户回访，住户表示满意").await;
    let end = t.now() + 3_600_000;
    let (_, api) = manager.get_json(&format!("/api/v1/communities/{c1}/follow-up-ledger?from={start}&to={end}")).await;
    let path = format!("/follow-up-ledger?community_id={c1}");
    let rows = page_and_downloads(&manager, &path, "follow-up-ledger").await;
    assert_eq!(rows[0].len(), 12);
    assert_eq!(rows[0][..2], zh(&["ledger.number", "followup.reason"]));
    assert_eq!(column(&rows, 0), numbers(&api), "in the order recorded");
    assert_eq!(column(&rows, 6), ["入户回访，已解决", "入户回访，住户表示满意"]);
    assert_eq!(column(&rows, 3), ["王秀英", "王秀英"]);
    let rows = page_and_downloads(&manager, &format!("{path}&sort=number&dir=desc"), "follow-up-ledger").await;
    let mut desc = numbers(&api);
    desc.sort();
    desc.reverse();
    assert_eq!(column(&rows, 0), desc);
    let x = fetch(&manager, &format!("{path}&format=xlsx")).await;
    assert_eq!(xlsx_rows(&x.body).0, "回访登记台帐");
    assert!(x.disposition.contains("filename=\"follow-up-ledger-"));
}

/// R-CMP-8: the weekly statistics table downloads with the numbers the API counts: the
/// counts as numbers, the changes with their sign; only for the centre's management.
#[tokio::test]
async fn r_cmp_8_weekly_table_downloads() {
    let t = TestApp::spawn().await;
    setup(&t).await;
    let desk = t.as_role(Role::Receptionist).await;
    let director = t.as_role(Role::CentreDirector).await;
    let c1 = t.c1;
    repair(&desk, c1, "water", "厨房水管爆裂").await;
    complaint(&desk, c1, "噪音").await;
    let (_, w) = director.get_json(&format!("/api/v1/communities/{c1}/weekly-report")).await;
    let path = format!("/reports/weekly?community_id={c1}");
    assert_eq!(desk.get(&format!("{path}&format=xlsx")).await.status(), 403);
    let html = director.get(&path).await.text().await.unwrap();
    assert!(html.contains("导出 Excel") && html.contains("导出 CSV"));

    let x = fetch(&director, &format!("{path}&format=xlsx")).await;
    assert!(x.disposition.contains(&format!("filename=\"weekly-{}.xlsx\"", w["week_start"].as_str().unwrap())));
    let (name, rows) = xlsx_rows(&x.body);
    assert_eq!(name, "业主_住户诉求统计表", "a worksheet name has no slash");
    assert_eq!(
        rows[0],
        zh(&["report.section", "report.item", "report.this_week", "report.last_week", "report.change"])
    );
    let registered = rows.iter().find(|r| r[1] == msg(Lang::Zh, "report.registered")).unwrap();
    assert_eq!(registered[2], w["totals"]["registered"].to_string());
    assert_eq!(registered[2], "2");
    let by_kind = msg(Lang::Zh, "report.by_kind");
    let kinds: Vec<&Vec<String>> = rows.iter().filter(|r| r[0] == by_kind).collect();
    assert_eq!(kinds.len(), w["by_kind"].as_array().unwrap().len());
    assert!(kinds.iter().all(|r| r[2] == "1" && r[3] == "0" && r[4] == "1"), "{kinds:?}");
    let sheet_xml = xlsx_part(&x.body, "xl/worksheets/sheet1.xml");
    assert!(sheet_xml.contains("<c r=\"C2\"") && !sheet_xml.contains("<c r=\"C3\" t=\"inlineStr\""));
    let styles = xlsx_part(&x.body, "xl/styles.xml");
    assert!(styles.contains("formatCode=\"+0;-0;0\""), "changes keep their sign: {styles}");

    let csv = fetch(&director, &format!("{path}&format=csv")).await;
    let from_csv = csv_rows(&csv.body);
    assert_eq!(from_csv.len(), rows.len());
    assert!(from_csv.iter().filter(|r| r[0] == by_kind).all(|r| r[4] == "+1"));
}
