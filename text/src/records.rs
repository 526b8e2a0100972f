//! Splitting delimited text (TSV, CSV) into records with line numbers.

use crate::error::{Result, TextError};

/// One record and the 1-based line it starts on.
pub(crate) struct Record {
    pub(crate) line: usize,
    pub(crate) fields: Vec<String>,
}

/// The records of a TSV file: one per line, fields split on tabs, no
/// quoting (a `"` is an ordinary character). Blank lines are skipped; a
/// `\r` before the `\n` is dropped.
pub(crate) fn tsv_records(text: &str) -> Vec<Record> {
    text.split('\n')
        .enumerate()
        .filter_map(|(i, line)| {
            let line = line.strip_suffix('\r').unwrap_or(line);
            (!line.is_empty()).then(|| Record {
                line: i + 1,
                fields: line.split('\t').map(String::from).collect(),
            })
        })
        .collect()
}

/// The records of a CSV file (RFC 4180): fields split on commas; a field
/// that starts with `"` is quoted and may hold commas, newlines and `""`
/// (a literal quote). A `"` inside an unquoted field is kept literally
/// (as Python's `csv` module does). Blank lines are skipped; `\r\n` and
/// `\n` both end a record. An unterminated quote, or text after a closing
/// quote, is an error naming `name` and the line.
pub(crate) fn csv_records(text: &str, name: &str) -> Result<Vec<Record>> {
    let mut records = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut line = 1;
    let mut record_line = 1;
    let mut chars = text.chars().peekable();
    // At the start of a field: a quote opens a quoted field.
    let mut at_field_start = true;
    let end_record =
        |fields: &mut Vec<String>, field: &mut String, records: &mut Vec<Record>, at: usize| {
            fields.push(std::mem::take(field));
            let done = std::mem::take(fields);
            if !(done.len() == 1 && done[0].is_empty()) {
                records.push(Record {
                    line: at,
                    fields: done,
                });
            }
        };
    while let Some(c) = chars.next() {
        match c {
            '"' if at_field_start => {
                let open_line = line;
                loop {
                    match chars.next() {
                        None => {
                            return Err(TextError::parse(
                                name,
                                open_line,
                                "unterminated quoted field (a '\"' opens it on this line and is never closed)",
                            ))
                        }
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some('"') => break,
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            field.push(c);
                        }
                    }
                }
                match chars.peek() {
                    None | Some(',') | Some('\n') => {}
                    Some('\r') => {}
                    Some(&other) => {
                        return Err(TextError::parse(
                            name,
                            line,
                            format!("unexpected {other:?} after the closing quote of a quoted field (expected ',' or the end of the line)"),
                        ))
                    }
                }
                at_field_start = false;
            }
            ',' => {
                fields.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                end_record(&mut fields, &mut field, &mut records, record_line);
                line += 1;
                record_line = line;
                at_field_start = true;
            }
            c => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    if !fields.is_empty() || !field.is_empty() {
        end_record(&mut fields, &mut field, &mut records, record_line);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(records: &[Record]) -> Vec<(usize, Vec<&str>)> {
        records
            .iter()
            .map(|r| (r.line, r.fields.iter().map(String::as_str).collect()))
            .collect()
    }

    #[test]
    fn tsv_keeps_quotes_and_skips_blank_lines() {
        let r = tsv_records("label\ttext\r\n\nwork\tsay \"hi\"\n");
        assert_eq!(
            fields(&r),
            [(1, vec!["label", "text"]), (3, vec!["work", "say \"hi\""])]
        );
    }

    #[test]
    fn csv_quoting() {
        let text = "label,text\r\na,\"x, \"\"y\"\"\"\nb,\"two\nlines\"\n\nc,plain \"q\"\n,\n";
        let r = csv_records(text, "t.csv").unwrap();
        assert_eq!(
            fields(&r),
            [
                (1, vec!["label", "text"]),
                (2, vec!["a", "x, \"y\""]),
                (3, vec!["b", "two\nlines"]),
                (6, vec!["c", "plain \"q\""]),
                (7, vec!["", ""]),
            ]
        );
    }

    #[test]
    fn csv_errors_name_the_line() {
        let err = csv_records("label,text\na,\"open\nstill open", "f.csv")
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "f.csv:2: unterminated quoted field (a '\"' opens it on this line and is never closed)"
        );
        let err = csv_records("label,text\na,b\nc,\"d\"e\n", "f.csv")
            .err()
            .unwrap();
        assert!(
            err.to_string().starts_with("f.csv:3: unexpected 'e'"),
            "{err}"
        );
    }
}
