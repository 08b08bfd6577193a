//! Ledger exports (R-SHEET-4, R-REP-1, R-CMP-5, R-RECV-3, R-FU-5, R-CMP-8): a table
//! description, two writers fed row by row, and the download that reads a ledger in pages
//! and never holds the whole file in memory.
//!
//! A download first reads the ledger's keys in the page's filter and order, in one query
//! that carries no columns (8 to 16 bytes a row), then the rows a page of keys at a time.
//! Paging the ledger itself (`LIMIT … OFFSET …`) would sort every row with all its
//! columns again for each page, and the sort of the last pages would hold nearly all of
//! them; and the keys fix the rows at the start, so that what is registered meanwhile
//! neither repeats nor pushes a row out.
//!
//! - CSV is UTF-8 with a byte-order mark, so that Excel on Chinese Windows opens it, and
//!   goes out as it is written: each page of rows read from the database becomes a chunk
//!   of the response body. A text cell that Excel would take for a formula (`=`, `+`, `-`,
//!   `@`) is sent with a leading `'`: the ledgers hold what residents said.
//! - XLSX has a bold, filled header row that stays in view (frozen) with filter buttons,
//!   and column widths for Chinese text. A workbook cannot be sent before it is complete
//!   (the zip directory comes last), so it is written on a blocking thread in
//!   constant-memory mode, where each row goes to a temporary file as soon as the next one
//!   starts, into an unnamed temporary file that is then streamed back and disappears when
//!   closed.
//!
//! The ledger pages also share their sortable column headers ([`Sort`]) here: an export
//! follows the page's filters and order.

use crate::app::{AppError, AppResult};
use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use rust_xlsxwriter::{Color, Format as CellFormat, FormatAlign, FormatBorder, Workbook, XlsxError};
use std::future::Future;
use std::io::{self, Seek, Write};
use tokio::sync::mpsc;

/// Rows read from the database at a time.
pub const PAGE: usize = 1_000;
/// The widest column, in character widths (a Chinese character is two).
pub const MAX_WIDTH: usize = 60;
/// Rows of one Excel worksheet, the header included.
const XLSX_ROWS: u32 = 1_048_576;
/// Characters of one Excel cell.
const CELL_CHARS: usize = 32_767;
const BOM: &[u8] = b"\xEF\xBB\xBF";
const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// What an export is downloaded as: `format=csv` or `format=xlsx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    /// The `format` parameter of a ledger page; `None` shows the page.
    pub fn parse(v: Option<&str>) -> Option<Format> {
        match v?.trim() {
            "csv" => Some(Format::Csv),
            "xlsx" => Some(Format::Xlsx),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }
}

/// How a column's cells are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// A count or an amount: a number in Excel when the cell reads as one.
    Number,
    /// A change (`+3`, `-2`): a number in Excel, shown with its sign.
    Signed,
}

/// A column of an exported table: its header and the width it needs at least, in
/// character widths (a Chinese character is two).
#[derive(Debug, Clone)]
pub struct Column {
    pub title: String,
    pub width: usize,
    pub kind: Kind,
}

impl Column {
    pub fn text(title: impl Into<String>, width: usize) -> Column {
        Column { title: title.into(), width, kind: Kind::Text }
    }

    pub fn number(title: impl Into<String>, width: usize) -> Column {
        Column { title: title.into(), width, kind: Kind::Number }
    }

    pub fn signed(title: impl Into<String>, width: usize) -> Column {
        Column { title: title.into(), width, kind: Kind::Signed }
    }
}

/// An exported table: the worksheet's name and the columns.
#[derive(Debug, Clone)]
pub struct Table {
    pub title: String,
    pub columns: Vec<Column>,
}

/// Width of a text in character widths, as Excel sizes columns: a CJK character (and a
/// full-width form) takes two, anything else one; of several lines, the widest.
pub fn display_width(s: &str) -> usize {
    s.lines().map(|l| l.chars().map(|c| if wide(c) { 2 } else { 1 }).sum()).max().unwrap_or(0)
}

fn wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD)
}

/// A text cell Excel would read as a formula, made inert.
fn defused(kind: Kind, cell: &str) -> std::borrow::Cow<'_, [u8]> {
    if kind == Kind::Text && cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}").into_bytes().into()
    } else {
        cell.as_bytes().into()
    }
}

// ---- CSV ----

/// CSV fed row by row: UTF-8 with a BOM, then the header, then the rows.
pub struct CsvRows<W: Write> {
    w: csv::Writer<W>,
    kinds: Vec<Kind>,
}

impl<W: Write> CsvRows<W> {
    /// A new file: the byte-order mark and the header row.
    pub fn new(mut out: W, table: &Table) -> io::Result<CsvRows<W>> {
        out.write_all(BOM)?;
        let mut rows = CsvRows::continuing(out, table);
        rows.w.write_record(table.columns.iter().map(|c| c.title.as_str()))?;
        Ok(rows)
    }

    /// More rows of a file already begun: a later chunk of a streamed download.
    pub fn continuing(out: W, table: &Table) -> CsvRows<W> {
        CsvRows { w: csv::Writer::from_writer(out), kinds: table.columns.iter().map(|c| c.kind).collect() }
    }

    pub fn row(&mut self, cells: &[String]) -> io::Result<()> {
        let kinds = &self.kinds;
        self.w.write_record(
            cells.iter().enumerate().map(|(i, c)| defused(kinds.get(i).copied().unwrap_or(Kind::Text), c)),
        )?;
        Ok(())
    }

    pub fn finish(self) -> io::Result<W> {
        self.w.into_inner().map_err(|e| e.into_error())
    }
}

/// One chunk of a streamed CSV download.
fn csv_chunk(table: &Table, first: bool, rows: impl Iterator<Item = Vec<String>>) -> io::Result<Vec<u8>> {
    let mut w = if first { CsvRows::new(Vec::new(), table)? } else { CsvRows::continuing(Vec::new(), table) };
    for r in rows {
        w.row(&r)?;
    }
    w.finish()
}

// ---- XLSX ----

/// An XLSX workbook fed row by row, in constant memory: one worksheet with a bold, filled
/// header row, frozen, with filter buttons; column widths from the widest cell.
pub struct XlsxRows {
    book: Workbook,
    kinds: Vec<Kind>,
    widths: Vec<usize>,
    signed: CellFormat,
    /// The next row to write (the header is row 0).
    next: u32,
}

impl XlsxRows {
    pub fn new(table: &Table) -> Result<XlsxRows, XlsxError> {
        let mut book = Workbook::new();
        let header = CellFormat::new()
            .set_bold()
            .set_background_color(Color::RGB(0xDD_EB_F7))
            .set_border(FormatBorder::Thin)
            .set_align(FormatAlign::VerticalCenter);
        let sheet = book.add_worksheet_with_constant_memory();
        sheet.set_name(sheet_name(&table.title))?;
        for (i, c) in table.columns.iter().enumerate() {
            sheet.write_string_with_format(0, col(i)?, cell_text(&c.title), &header)?;
        }
        sheet.set_freeze_panes(1, 0)?;
        Ok(XlsxRows {
            book,
            kinds: table.columns.iter().map(|c| c.kind).collect(),
            // The header's filter button takes about three characters.
            widths: table.columns.iter().map(|c| c.width.max(display_width(&c.title) + 3)).collect(),
            signed: CellFormat::new().set_num_format("+0;-0;0"),
            next: 1,
        })
    }

    pub fn row(&mut self, cells: &[String]) -> Result<(), XlsxError> {
        if self.next >= XLSX_ROWS {
            return Err(XlsxError::RowColumnLimitError);
        }
        let row = self.next;
        let sheet = self.book.worksheet_from_index(0)?;
        for (i, cell) in cells.iter().enumerate() {
            if cell.is_empty() {
                continue;
            }
            let kind = self.kinds.get(i).copied().unwrap_or(Kind::Text);
            let number =
                if kind == Kind::Text { None } else { cell.trim().parse::<f64>().ok().filter(|n| n.is_finite()) };
            match (number, kind) {
                (Some(n), Kind::Signed) => sheet.write_number_with_format(row, col(i)?, n, &self.signed)?,
                (Some(n), _) => sheet.write_number(row, col(i)?, n)?,
                (None, _) => sheet.write_string(row, col(i)?, cell_text(cell))?,
            };
            if let Some(w) = self.widths.get_mut(i) {
                *w = (*w).max(display_width(cell));
            }
        }
        self.next += 1;
        Ok(())
    }

    /// Set the widths and the filter over what was written, and write the file.
    pub fn finish<W: Write + Seek + Send>(mut self, out: W) -> Result<(), XlsxError> {
        let last_row = self.next - 1;
        let columns = self.widths.len();
        let sheet = self.book.worksheet_from_index(0)?;
        for (i, w) in self.widths.iter().enumerate() {
            sheet.set_column_width(col(i)?, ((*w).min(MAX_WIDTH) + 1) as f64)?;
        }
        if columns > 0 {
            sheet.autofilter(0, 0, last_row, col(columns - 1)?)?;
        }
        self.book.save_to_writer(out)
    }
}

fn col(i: usize) -> Result<u16, XlsxError> {
    u16::try_from(i).map_err(|_| XlsxError::RowColumnLimitError)
}

/// A cell's text within Excel's limit.
fn cell_text(s: &str) -> &str {
    match s.char_indices().nth(CELL_CHARS) {
        Some((at, _)) => &s[..at],
        None => s,
    }
}

/// A worksheet name Excel accepts: at most 31 characters, none of `[]:*?/\`, not
/// starting or ending with an apostrophe.
fn sheet_name(title: &str) -> String {
    let clean: String = title
        .chars()
        .map(|c| if matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\') { '_' } else { c })
        .take(31)
        .collect();
    let clean = clean.trim_matches('\'').trim();
    if clean.is_empty() { "Sheet1".to_string() } else { clean.to_string() }
}

// ---- the download ----

/// `Content-Disposition` for a download named `name` (Chinese as it is, RFC 5987
/// `filename*`), with `fallback` (ASCII) for clients that do not read `filename*`.
pub fn disposition(name: &str, fallback: &str, format: Format) -> String {
    let ext = format.extension();
    let ascii: String = fallback
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
        .collect();
    let ascii = if ascii.is_empty() { "export".to_string() } else { ascii };
    let mut encoded = String::new();
    for b in format!("{name}.{ext}").bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}.{ext}\"; filename*=UTF-8''{encoded}")
}

/// What is asked of a ledger for its download.
pub struct Download {
    pub format: Format,
    pub table: Table,
    /// The file's name without extension, as people read it (Chinese on a zh-CN page).
    pub name: String,
    /// The same in ASCII, for clients that cannot take the other.
    pub fallback: String,
}

/// The download of a ledger whose rows are `keys`, in order (read in one query that carries
/// no columns): `fetch` reads the rows of a page of keys, `cells` turns a row into the
/// table's cells. The first page is read before anything is sent, so that a refusal is
/// an ordinary error page; a failure later breaks the download off (the client sees it
/// fail) rather than cutting the file short unnoticed.
pub async fn download<K, T, F, Fut, C>(d: Download, keys: Vec<K>, mut fetch: F, cells: C) -> AppResult<Response>
where
    K: Send + 'static,
    T: Send + 'static,
    F: FnMut(Vec<K>) -> Fut + Send + 'static,
    Fut: Future<Output = AppResult<Vec<T>>> + Send + 'static,
    C: FnMut(T) -> Vec<String> + Send + 'static,
{
    if d.format == Format::Xlsx && keys.len() >= XLSX_ROWS as usize {
        return Err(AppError::rejected("export_too_large"));
    }
    let mut pages = Pages { keys: keys.into_iter() };
    let first = match pages.next() {
        Some(page) => fetch(page).await?,
        None => vec![],
    };
    let disposition = disposition(&d.name, &d.fallback, d.format);
    let private = (header::CACHE_CONTROL, "private, no-store".to_string());
    match d.format {
        Format::Csv => {
            let body = csv_body(d.table, first, pages, fetch, cells);
            let headers = [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (header::CONTENT_DISPOSITION, disposition),
                private,
            ];
            Ok((headers, body).into_response())
        }
        Format::Xlsx => {
            let (body, len) = xlsx_body(d.table, first, pages, fetch, cells).await?;
            let headers = [
                (header::CONTENT_TYPE, XLSX_TYPE.to_string()),
                (header::CONTENT_DISPOSITION, disposition),
                (header::CONTENT_LENGTH, len.to_string()),
                private,
            ];
            Ok((headers, body).into_response())
        }
    }
}

/// The download of a table already in memory: a report of a few dozen rows.
pub async fn download_rows(d: Download, rows: Vec<Vec<String>>) -> AppResult<Response> {
    download(d, rows, |page| async move { Ok(page) }, |r| r).await
}

/// A ledger's keys, a page at a time.
struct Pages<K> {
    keys: std::vec::IntoIter<K>,
}

impl<K> Iterator for Pages<K> {
    type Item = Vec<K>;

    fn next(&mut self) -> Option<Vec<K>> {
        let page: Vec<K> = self.keys.by_ref().take(PAGE).collect();
        (!page.is_empty()).then_some(page)
    }
}

/// The CSV body: a task reads page after page and sends each as a chunk; it stops when the
/// client goes away (the channel closes) or the ledger ends.
fn csv_body<K, T, F, Fut, C>(table: Table, first: Vec<T>, mut pages: Pages<K>, mut fetch: F, mut cells: C) -> Body
where
    K: Send + 'static,
    T: Send + 'static,
    F: FnMut(Vec<K>) -> Fut + Send + 'static,
    Fut: Future<Output = AppResult<Vec<T>>> + Send + 'static,
    C: FnMut(T) -> Vec<String> + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<io::Result<Vec<u8>>>(2);
    tokio::spawn(async move {
        let mut page = first;
        let mut begun = false;
        loop {
            let chunk = csv_chunk(&table, !begun, std::mem::take(&mut page).into_iter().map(&mut cells));
            begun = true;
            let failed = chunk.is_err();
            if tx.send(chunk).await.is_err() || failed {
                return;
            }
            let Some(keys) = pages.next() else { return };
            page = match fetch(keys).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, "export broken off");
                    let _ = tx.send(Err(io::Error::other("export broken off"))).await;
                    return;
                }
            };
        }
    });
    Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) }))
}

enum Feed {
    Rows(Vec<Vec<String>>),
    End,
}

/// The XLSX body: pages are read here and written on a blocking thread into an unnamed
/// temporary file, which is then sent in chunks.
async fn xlsx_body<K, T, F, Fut, C>(
    table: Table,
    first: Vec<T>,
    mut pages: Pages<K>,
    mut fetch: F,
    mut cells: C,
) -> AppResult<(Body, u64)>
where
    K: Send + 'static,
    T: Send + 'static,
    F: FnMut(Vec<K>) -> Fut + Send + 'static,
    Fut: Future<Output = AppResult<Vec<T>>> + Send + 'static,
    C: FnMut(T) -> Vec<String> + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Feed>(2);
    let writer = tokio::task::spawn_blocking(move || -> Result<Option<std::fs::File>, XlsxError> {
        let mut book = XlsxRows::new(&table)?;
        loop {
            match rx.blocking_recv() {
                Some(Feed::Rows(rows)) => {
                    for r in rows {
                        book.row(&r)?;
                    }
                }
                Some(Feed::End) => break,
                // The request was given up: no file.
                None => return Ok(None),
            }
        }
        let mut file = tempfile::tempfile()?;
        book.finish(&mut file)?;
        file.flush()?;
        Ok(Some(file))
    });
    let mut page = first;
    loop {
        let rows = std::mem::take(&mut page).into_iter().map(&mut cells).collect();
        // A closed channel means the writer failed; its error is read below.
        if tx.send(Feed::Rows(rows)).await.is_err() {
            break;
        }
        match pages.next() {
            Some(keys) => page = fetch(keys).await?,
            None => {
                let _ = tx.send(Feed::End).await;
                break;
            }
        }
    }
    drop(tx);
    let mut file = match writer.await {
        Ok(Ok(Some(file))) => file,
        Ok(Ok(None)) => return Err(AppError::Internal("export writer stopped early".into())),
        Ok(Err(XlsxError::RowColumnLimitError)) => return Err(AppError::rejected("export_too_large")),
        Ok(Err(e)) => return Err(AppError::Internal(format!("export: {e}"))),
        Err(e) => return Err(AppError::Internal(format!("export: {e}"))),
    };
    let len = file.metadata().map_err(|e| AppError::Internal(format!("export: {e}")))?.len();
    file.rewind().map_err(|e| AppError::Internal(format!("export: {e}")))?;
    let file = tokio::fs::File::from_std(file);
    let chunks = futures_util::stream::unfold(Some(file), |file| async move {
        use tokio::io::AsyncReadExt;
        let mut file = file?;
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(buf), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    Ok((Body::from_stream(chunks), len))
}

// ---- sortable ledger pages ----

/// A ledger page's order: `sort=<column>&dir=asc|desc`, the column one of the ledger's
/// own (the store's list of sortable columns); otherwise the ledger's default order.
#[derive(Debug, Clone, Default)]
pub struct Sort {
    pub key: Option<&'static str>,
    pub desc: bool,
}

/// A column header of a ledger page: a link that sorts by it, when it can be sorted.
pub struct Header {
    pub title: String,
    pub href: Option<String>,
    /// `▲` or `▼` on the column the page is sorted by.
    pub mark: &'static str,
    /// `aria-sort` of that column: `ascending` or `descending`.
    pub aria_sort: &'static str,
    /// The cell's class (`opt`: hidden on narrow screens).
    pub class: &'static str,
}

impl Header {
    pub fn class(self, class: &'static str) -> Header {
        Header { class, ..self }
    }
}

impl Sort {
    pub fn parse(sort: Option<&str>, dir: Option<&str>, columns: &[(&'static str, &str)]) -> Sort {
        let key = sort.and_then(|s| columns.iter().find(|(k, _)| *k == s.trim())).map(|(k, _)| *k);
        Sort { key, desc: key.is_some() && dir.map(str::trim) == Some("desc") }
    }

    /// The query parameters that keep this order (none for the default one).
    pub fn pairs(&self) -> Vec<(&'static str, &'static str)> {
        match self.key {
            Some(k) => vec![("sort", k), ("dir", if self.desc { "desc" } else { "asc" })],
            None => vec![],
        }
    }

    /// For the store's filter.
    pub fn column(&self) -> Option<String> {
        self.key.map(str::to_string)
    }

    /// The header of a column that sorts by `key` (none: not sortable); `base` is the
    /// page's address with its filters, without an order. A second click reverses.
    pub fn header(&self, title: impl Into<String>, key: Option<&'static str>, base: &str) -> Header {
        let current = key.is_some() && key == self.key;
        Header {
            title: title.into(),
            href: key.map(|k| {
                let dir = if current && !self.desc { "desc" } else { "asc" };
                format!("{base}&sort={k}&dir={dir}")
            }),
            mark: match (current, self.desc) {
                (false, _) => "",
                (true, false) => "▲",
                (true, true) => "▼",
            },
            aria_sort: match (current, self.desc) {
                (false, _) => "",
                (true, false) => "ascending",
                (true, true) => "descending",
            },
            class: "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        Table {
            title: "业主报修反映台帐".into(),
            columns: vec![Column::text("单号", 12), Column::text("内容", 10), Column::number("次数", 6)],
        }
    }

    #[test]
    fn width_counts_chinese_twice() {
        assert_eq!(display_width("abc"), 3);
        assert_eq!(display_width("漏水"), 4);
        assert_eq!(display_width("3-2-1502 王秀英"), 15);
        assert_eq!(display_width("（全角）"), 8);
        assert_eq!(display_width("一行\n长一些的一行"), 12);
    }

    #[test]
    fn csv_has_a_bom_a_header_and_inert_formulas() {
        let mut w = CsvRows::new(Vec::new(), &table()).unwrap();
        w.row(&["KF-2026-000001".into(), "=HYPERLINK(\"x\")".into(), "-3".into()]).unwrap();
        w.row(&["KF-2026-000002".into(), "厨房,漏水".into(), "2".into()]).unwrap();
        let out = w.finish().unwrap();
        assert!(out.starts_with(BOM));
        let text = String::from_utf8(out[3..].to_vec()).unwrap();
        assert_eq!(
            text,
            "单号,内容,次数\nKF-2026-000001,\"'=HYPERLINK(\"\"x\"\")\",-3\nKF-2026-000002,\"厨房,漏水\",2\n"
        );
        let more = csv_chunk(&table(), false, std::iter::once(vec!["a".into()])).unwrap();
        assert_eq!(more, b"a\n");
    }

    #[test]
    fn xlsx_reads_back_with_numbers_and_widths() {
        use calamine::{Data, Reader, Xlsx};
        let mut x = XlsxRows::new(&table()).unwrap();
        x.row(&["KF-2026-000001".into(), "厨房水管漏水".repeat(20), "3".into()]).unwrap();
        x.row(&["KF-2026-000002".into(), String::new(), "n/a".into()]).unwrap();
        let mut buf = io::Cursor::new(Vec::new());
        x.finish(&mut buf).unwrap();
        buf.set_position(0);
        let mut book: Xlsx<_> = Xlsx::new(buf).unwrap();
        assert_eq!(book.sheet_names(), vec!["业主报修反映台帐".to_string()]);
        let range = book.worksheet_range("业主报修反映台帐").unwrap();
        assert_eq!(range.get_size(), (3, 3));
        assert_eq!(range.get((0, 0)), Some(&Data::String("单号".into())));
        assert_eq!(range.get((1, 2)), Some(&Data::Float(3.0)));
        assert_eq!(range.get((2, 1)), Some(&Data::Empty));
        assert_eq!(range.get((2, 2)), Some(&Data::String("n/a".into())));
    }

    #[test]
    fn file_names_keep_chinese() {
        assert_eq!(
            disposition("回访登记台帐 2026-03", "follow-up ledger", Format::Xlsx),
            "attachment; filename=\"follow-up_ledger.xlsx\"; \
             filename*=UTF-8''%E5%9B%9E%E8%AE%BF%E7%99%BB%E8%AE%B0%E5%8F%B0%E5%B8%90%202026-03.xlsx"
        );
        assert_eq!(sheet_name("a/b:c*d?[e]"), "a_b_c_d__e_");
        assert_eq!(sheet_name(&"长".repeat(40)).chars().count(), 31);
    }

    #[test]
    fn sorting_is_limited_to_the_ledger_columns() {
        let cols: &[(&'static str, &str)] = &[("number", "s.number"), ("state", "s.state")];
        let s = Sort::parse(Some("number"), Some("desc"), cols);
        assert_eq!((s.key, s.desc), (Some("number"), true));
        let h = s.header("单号", Some("number"), "/x?c=1");
        assert_eq!((h.href.as_deref(), h.mark), (Some("/x?c=1&sort=number&dir=asc"), "▼"));
        let h = s.header("状态", Some("state"), "/x?c=1");
        assert_eq!((h.href.as_deref(), h.mark), (Some("/x?c=1&sort=state&dir=asc"), ""));
        let s = Sort::parse(Some("s.number; DROP TABLE sheets"), Some("desc"), cols);
        assert_eq!((s.key, s.desc), (None, false));
        assert!(s.pairs().is_empty());
    }
}
