//! Docker-compatible output: `--format`, aligned tables, human times, short IDs and `--filter`.

use serde_json::Value;

use crate::template::Template;

/// How a listing command prints its rows, chosen by `--format`.
#[derive(Debug, Clone)]
pub enum Format {
    /// No `--format`, or just `table`: the command's default columns.
    Default,
    /// `table {{.A}}\t{{.B}}`: a header row, then aligned rows.
    Table(Template),
    /// Any other template: each row rendered, one per line.
    Template(Template),
    /// `json`: each row as one line of compact JSON.
    Json,
}

/// Parses `--format` as docker's CLI does: a `table` prefix, the word `json`, or a template.
pub fn parse_format(s: Option<&str>) -> Result<Format, String> {
    let Some(s) = s else {
        return Ok(Format::Default);
    };
    let parse =
        |src: &str| Template::parse(src).map_err(|e| format!("template parsing error: {e}"));
    if let Some(rest) = s.strip_prefix("table") {
        let rest = rest.trim_matches(' ');
        if rest.is_empty() {
            return Ok(Format::Default);
        }
        return Ok(Format::Table(parse(rest)?));
    }
    match s.trim_matches(' ') {
        "" => Ok(Format::Default),
        "json" => Ok(Format::Json),
        src => Ok(Format::Template(parse(src)?)),
    }
}

/// `write_rows` with the header row, into a string.
#[cfg(test)]
pub fn render_rows(
    fmt: &Format,
    rows: &[Value],
    headers: &dyn Fn(&str) -> String,
    default_columns: &str,
) -> Result<String, String> {
    let mut out = Vec::new();
    write_rows(fmt, rows, headers, default_columns, true, &mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Writes `rows` in `fmt` to `out`. `headers` names a field's column ("ID" -> "IMAGE ID");
/// `default_columns` is the table template used by `Format::Default`; `heading` false leaves
/// the header row out (podman's `--noheading`). JSON and templates are written as they are
/// made, a row (and a large row a piece) at a time; a table is aligned whole first, as
/// tabwriter does.
pub fn write_rows(
    fmt: &Format,
    rows: &[Value],
    headers: &dyn Fn(&str) -> String,
    default_columns: &str,
    heading: bool,
    out: &mut dyn std::io::Write,
) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("writing the output: {e}");
    let default;
    let table = match fmt {
        Format::Json => {
            for row in rows {
                serde_json::to_writer(&mut *out, row).map_err(|e| format!("json: {e}"))?;
                out.write_all(b"\n").map_err(fail)?;
            }
            return Ok(());
        }
        Format::Template(t) => {
            for row in rows {
                t.render_to(row, out)?;
                out.write_all(b"\n").map_err(fail)?;
            }
            return Ok(());
        }
        Format::Table(t) => t,
        Format::Default => {
            let src = default_columns
                .strip_prefix("table")
                .unwrap_or(default_columns);
            default = Template::parse(src.trim_matches(' '))?;
            &default
        }
    };
    let mut text = String::new();
    if heading {
        text = table.render_header(headers)?;
        text.push('\n');
    }
    for row in rows {
        text.push_str(&table.render(row)?);
        text.push('\n');
    }
    let cells: Vec<Vec<String>> = text
        .split_terminator('\n')
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect();
    out.write_all(render_table(&cells).as_bytes()).map_err(fail)
}

/// docker's `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`.
const MIN_WIDTH: usize = 10;
const PADDING: usize = 3;

/// Aligns cells like Go's text/tabwriter with docker's settings: a column is as wide as its
/// widest cell plus 3, at least 10; a row's last cell is never padded. As in tabwriter, a
/// column only aligns across a run of consecutive rows that have a cell after it.
pub fn render_table(rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    let mut widths = Vec::new();
    table_block(rows, 0, rows.len(), &mut widths, &mut out);
    out
}

/// tabwriter's `format`: find each run of rows that have column `widths.len()`, size it,
/// and recurse for the columns to its right.
fn table_block(
    rows: &[Vec<String>],
    mut line0: usize,
    line1: usize,
    widths: &mut Vec<usize>,
    out: &mut String,
) {
    let column = widths.len();
    let has_column = |row: &Vec<String>| column + 1 < row.len();
    let mut this = line0;
    while this < line1 {
        if !has_column(&rows[this]) {
            this += 1;
            continue;
        }
        table_lines(&rows[line0..this], widths, out);
        line0 = this;
        let mut width = MIN_WIDTH;
        while this < line1 && has_column(&rows[this]) {
            width = width.max(rows[this][column].chars().count() + PADDING);
            this += 1;
        }
        widths.push(width);
        table_block(rows, line0, this, widths, out);
        widths.pop();
        line0 = this;
    }
    table_lines(&rows[line0..line1], widths, out);
}

fn table_lines(rows: &[Vec<String>], widths: &[usize], out: &mut String) {
    for row in rows {
        let start = out.len();
        for (j, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if let Some(w) = widths.get(j) {
                out.extend(std::iter::repeat_n(
                    ' ',
                    w.saturating_sub(cell.chars().count()),
                ));
            }
        }
        // tabwriter would pad before an empty last cell; nobody wants those trailing spaces.
        let trimmed = out[start..].trim_end_matches(' ').len();
        out.truncate(start + trimmed);
        out.push('\n');
    }
}

/// docker/go-units `HumanDuration`: "Less than a second", "About a minute", "3 weeks"...
pub fn human_duration(secs: i64) -> String {
    if secs < 1 {
        return "Less than a second".into();
    }
    if secs == 1 {
        return "1 second".into();
    }
    if secs < 60 {
        return format!("{secs} seconds");
    }
    let minutes = secs / 60;
    if minutes == 1 {
        return "About a minute".into();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    // go-units rounds hours to the nearest one, but truncates for years.
    let hours = (secs + 1800) / 3600;
    match hours {
        1 => "About an hour".into(),
        h if h < 48 => format!("{h} hours"),
        h if h < 24 * 7 * 2 => format!("{} days", h / 24),
        h if h < 24 * 30 * 2 => format!("{} weeks", h / 24 / 7),
        h if h < 24 * 365 * 2 => format!("{} months", h / 24 / 30),
        _ => format!("{} years", secs / 3600 / 24 / 365),
    }
}

/// "2 hours ago", as docker prints CREATED.
pub fn time_ago(unix: i64, now: i64) -> String {
    format!("{} ago", human_duration(now - unix))
}

/// RFC 3339 times are the container layer's (one implementation for records, logs and output).
pub use crate::time::{parse_rfc3339, rfc3339};

/// Go's `time.Time.String()` in UTC, which `docker images --format {{.CreatedAt}}` prints.
pub fn docker_created_at(unix: i64) -> String {
    let stamp = rfc3339(unix, 0);
    format!(
        "{} +0000 UTC",
        stamp.trim_end_matches('Z').replacen('T', " ", 1)
    )
}

/// Parses `--filter name=value` arguments; names are lower-cased and both sides trimmed.
pub fn parse_filters(args: &[String]) -> Result<Vec<(String, String)>, String> {
    args.iter()
        .map(|a| match a.split_once('=') {
            Some((k, v)) => Ok((k.trim().to_lowercase(), v.trim().to_string())),
            None => Err("bad format of filter (expected name=value)".to_string()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_matches_docker_layout() {
        let rows = vec![
            vec![
                "REPOSITORY".into(),
                "TAG".into(),
                "IMAGE ID".into(),
                "CREATED".into(),
                "SIZE".into(),
            ],
            vec![
                "busybox".into(),
                "latest".into(),
                "a416a98b71e2".into(),
                "4 months ago".into(),
                "4.26MB".into(),
            ],
        ];
        assert_eq!(
            render_table(&rows),
            "REPOSITORY   TAG       IMAGE ID       CREATED        SIZE\n\
             busybox      latest    a416a98b71e2   4 months ago   4.26MB\n"
        );
        // A line without a tab ends tabwriter's column block; an empty last cell leaves no spaces.
        let rows: Vec<Vec<String>> = [
            vec!["a", "b"],
            vec!["solo"],
            vec!["longer-name", "x"],
            vec!["c", ""],
        ]
        .iter()
        .map(|r| r.iter().map(|s| s.to_string()).collect())
        .collect();
        assert_eq!(
            render_table(&rows),
            "a         b\nsolo\nlonger-name   x\nc\n"
        );
        assert_eq!(
            render_table(&[vec!["é".into(), "x".into()]]),
            "é         x\n"
        );
    }

    fn header(f: &str) -> String {
        match f {
            "ID" => "IMAGE ID".into(),
            "CreatedSince" => "CREATED".into(),
            "CreatedAt" => "CREATED AT".into(),
            _ => f.to_uppercase(),
        }
    }

    #[test]
    fn render_rows_in_every_format() {
        let rows = vec![
            json!({"Repository": "busybox", "Tag": "latest", "ID": "a416a98b71e2", "CreatedSince": "4 months ago", "Size": "4.26MB"}),
            json!({"Repository": "docker.io/library/alpine", "Tag": "3.20", "ID": "91ef0af61f39", "CreatedSince": "2 weeks ago", "Size": "7.8MB"}),
        ];
        let cols = "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.CreatedSince}}\\t{{.Size}}";
        let out = render_rows(&parse_format(None).unwrap(), &rows, &header, cols).unwrap();
        assert_eq!(
            out,
            "REPOSITORY                 TAG       IMAGE ID       CREATED        SIZE\n\
             busybox                    latest    a416a98b71e2   4 months ago   4.26MB\n\
             docker.io/library/alpine   3.20      91ef0af61f39   2 weeks ago    7.8MB\n"
        );
        assert_eq!(
            render_rows(&parse_format(Some("table")).unwrap(), &rows, &header, cols).unwrap(),
            out
        );
        let t = parse_format(Some(
            "table {{.Repository}}:{{.Tag | upper}}\\t{{json .ID}}",
        ))
        .unwrap();
        assert_eq!(
            render_rows(&t, &rows[..1], &header, cols).unwrap(),
            "REPOSITORY:TAG   IMAGE ID\nbusybox:LATEST   \"a416a98b71e2\"\n"
        );
        assert_eq!(
            render_rows(&t, &[], &header, cols).unwrap(),
            "REPOSITORY:TAG   IMAGE ID\n"
        );
        let t = parse_format(Some("{{.Repository}}\\t{{.Tag}}")).unwrap();
        assert_eq!(
            render_rows(&t, &rows, &header, cols).unwrap(),
            "busybox\tlatest\ndocker.io/library/alpine\t3.20\n"
        );
        let j = parse_format(Some("json")).unwrap();
        let out = render_rows(&j, &rows[..1], &header, cols).unwrap();
        assert_eq!(out, "{\"CreatedSince\":\"4 months ago\",\"ID\":\"a416a98b71e2\",\"Repository\":\"busybox\",\"Size\":\"4.26MB\",\"Tag\":\"latest\"}\n");
        assert!(matches!(parse_format(Some(" json ")), Ok(Format::Json)));
        assert_eq!(
            parse_format(Some("{{foo}}")).unwrap_err(),
            r#"template parsing error: template: :1: function "foo" not defined"#
        );
        let bad = parse_format(Some("{{.X.Y}}")).unwrap();
        assert!(render_rows(&bad, &[json!({"X": null})], &header, cols).is_err());
    }

    #[test]
    fn human_durations_match_go_units() {
        let cases = [
            (-5, "Less than a second"),
            (0, "Less than a second"),
            (1, "1 second"),
            (59, "59 seconds"),
            (60, "About a minute"),
            (119, "About a minute"),
            (120, "2 minutes"),
            (3599, "59 minutes"),
            (3600, "About an hour"),
            (5399, "About an hour"),
            (5400, "2 hours"),
            (47 * 3600, "47 hours"),
            (48 * 3600, "2 days"),
            (14 * 86400 - 1801, "13 days"),
            (14 * 86400 - 1800, "2 weeks"),
            (14 * 86400, "2 weeks"),
            (60 * 86400, "2 months"),
            (729 * 86400, "24 months"),
            (730 * 86400, "2 years"),
            (3 * 365 * 86400 + 100, "3 years"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(secs), want, "{secs}s");
        }
        assert_eq!(time_ago(1000, 1000 + 7200), "2 hours ago");
    }

    #[test]
    fn times_round_trip() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(1_795_650_003, 123_456_789),
            "2026-11-25T23:40:03.123456789Z"
        );
        assert_eq!(
            rfc3339(1_795_650_003, 120_000_000),
            "2026-11-25T23:40:03.12Z"
        );
        assert_eq!(rfc3339(951_782_400, 0), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(-1, 0), "1969-12-31T23:59:59Z");
        assert_eq!(
            docker_created_at(1_795_650_003),
            "2026-11-25 23:40:03 +0000 UTC"
        );
        assert_eq!(
            parse_rfc3339("2026-11-25T23:40:03.123456789Z"),
            Some((1_795_650_003, 123_456_789))
        );
        assert_eq!(
            parse_rfc3339("2026-11-25T23:40:03Z"),
            Some((1_795_650_003, 0))
        );
        assert_eq!(
            parse_rfc3339("2026-11-26T01:40:03.5+02:00"),
            Some((1_795_650_003, 500_000_000))
        );
        assert_eq!(
            parse_rfc3339("2026-11-25T20:10:03.1234567891234-03:30"),
            Some((1_795_650_003, 123_456_789))
        );
        assert_eq!(
            parse_rfc3339("2000-02-29T00:00:00z"),
            Some((951_782_400, 0))
        );
        for bad in [
            "",
            "2026-11-25",
            "2026-13-01T00:00:00Z",
            "2001-02-29T00:00:00Z",
            "2026-11-25T24:00:00Z",
            "2026-11-25T23:40:03",
            "2026-11-25T23:40:03.Z",
            "2026-11-25T23:40:03+0200",
            "2026-11-25T23:40:03Zjunk",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        for t in [0i64, 86_399, 951_782_400, 4_102_444_800, -86_400 * 365] {
            assert_eq!(parse_rfc3339(&rfc3339(t, 7)), Some((t, 7)));
        }
    }

    #[test]
    fn filters() {
        let args = vec!["dangling=true".to_string(), " Label = a=b ".to_string()];
        assert_eq!(
            parse_filters(&args).unwrap(),
            vec![
                ("dangling".into(), "true".into()),
                ("label".into(), "a=b".into())
            ]
        );
        assert_eq!(
            parse_filters(&["nope".into()]).unwrap_err(),
            "bad format of filter (expected name=value)"
        );
    }
}
