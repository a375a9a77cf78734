use super::*;

/// The default `[dialing]` rules (Russia, Europe/Moscow), as the store hands them in.
fn default_rules() -> RowRules {
    RowRules {
        normalize: Box::new(|raw| crate::core::numbers::normalize(raw, &Default::default())),
        default_tz: chrono_tz::Europe::Moscow,
    }
}

fn read_all(text: &[u8], kind: FileKind) -> Result<Vec<String>, ListError> {
    let mut r = RowReader::new(Path::new("t.csv"), text, kind, default_rules())?;
    let mut out = Vec::new();
    while let Some(row) = r.next_row()? {
        out.push(match row {
            Row::Contact(c) => format!("{} ok {} {} {:?}", c.line, c.phone, c.tz, c.extra),
            Row::Problem(p) => format!("{} {}", p.line, p.reason),
        });
    }
    Ok(out)
}

#[test]
fn semicolons_bom_and_russian_headers() {
    let text = "\u{feff}Телефон;ФИО;Лицевой счёт;Адрес\n8 916 123-45-67;Иванов;123;ул. Ленина, 1\n";
    let rows = read_all(text.as_bytes(), FileKind::Contacts).unwrap();
    assert_eq!(
        rows,
        ["2 ok +79161234567 Europe/Moscow [(\"Адрес\", \"ул. Ленина, 1\")]"]
    );
}

#[test]
fn header_problems_name_line_one() {
    for (text, want) in [
        (&b""[..], "empty file"),
        (b"name,account\nx,1\n", "no phone column"),
        (b"phone,tel\n1,2\n", "are the same"),
        (b"\xff\xfep\x00h\x00", "UTF-16"),
        (b"ph\xf2ne,name\n", "not UTF-8"),
    ] {
        let err = read_all(text, FileKind::Contacts).unwrap_err().to_string();
        assert!(err.contains("line 1") || want == "UTF-16", "{err}");
        assert!(err.contains(want), "{err}");
    }
}

#[test]
fn dnc_files_ignore_other_columns() {
    let rows = read_all(
        b"phone,reason,comment\n89161234567,asked,x\n",
        FileKind::Dnc,
    )
    .unwrap();
    assert_eq!(rows, ["2 ok +79161234567 Europe/Moscow []"]);
}

#[test]
fn an_unclosed_quote_is_refused_alone() {
    // at the end of the file, with or without a line break after it
    for text in [
        &b"phone,name\n+79161234567,\"x"[..],
        b"phone,name\r\n+79161234567,\"x\r\n",
    ] {
        let rows = read_all(text, FileKind::Contacts).unwrap();
        assert_eq!(rows, ["2 unclosed quote in column 2"], "{text:?}");
    }
    // in the middle, CRLF: the rows after it are rows
    let rows = read_all(
        b"phone;name\r\n\"+79161234567;a\r\n89161234568;b\r\n\r\n89161234569;\"c\r\nd\"\r\n",
        FileKind::Contacts,
    )
    .unwrap();
    assert_eq!(
        rows,
        [
            "2 unclosed quote in column 1 (the lines after it are read as rows of their own)",
            "3 ok +79161234568 Europe/Moscow []",
            "5 ok +79161234569 Europe/Moscow []",
        ]
    );
}

#[test]
fn raw_text_quotes_and_caps() {
    let rec = ByteRecord::from(vec!["a,b", "c\"d", "e"]);
    assert_eq!(raw_text(&rec, b','), "\"a,b\",\"c\"\"d\",e");
    let long = ByteRecord::from(vec!["x".repeat(2000)]);
    assert_eq!(raw_text(&long, b',').chars().count(), MAX_RAW_CHARS + 1);
}
