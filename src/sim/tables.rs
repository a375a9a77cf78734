//! The switch's key-value tables, as the `db` and `hash` applications and API commands
//! reach them: mod_db's (kept in the core database) and mod_hash's (in memory).

/// mod_db: `db_data` in the switch's core database (SQLite by default), so unlike mod_hash
/// it survives a restart or crash of the switch. Returns the API's reply text (`+OK` with no
/// line break, the selected value, or `!err!`).
pub fn db_op(core: &super::core::Core, arg: &str) -> String {
    let f: Vec<&str> = arg.splitn(4, '/').collect();
    let mut st = super::core::lock(&core.st);
    let table = &mut st.db_data;
    match (
        f.first().map(|c| c.to_ascii_lowercase()),
        f.get(1),
        f.get(2),
        f.get(3),
    ) {
        (Some(c), Some(realm), Some(key), Some(v)) if c == "insert" => {
            table.insert(format!("{realm}/{key}"), v.to_string());
            "+OK".into()
        }
        (Some(c), Some(realm), Some(key), _) if c == "delete" => {
            table.remove(&format!("{realm}/{key}"));
            "+OK".into()
        }
        (Some(c), Some(realm), Some(key), _) if c == "select" => table
            .get(&format!("{realm}/{key}"))
            .cloned()
            .unwrap_or_default(),
        _ => "!err!".into(),
    }
}

/// mod_hash: one in-memory table per switch process (a restart loses it), keyed
/// `realm_key`; `/` splits at most four fields. Returns the API's reply text.
pub fn hash_op(core: &super::core::Core, arg: &str) -> String {
    let f: Vec<&str> = arg.splitn(4, '/').collect();
    let usage =
        "-ERR Usage: hash insert|insert_ifempty|select|delete|delete_ifmatch/realm/key[/value]\n";
    if f.len() < 3 || f[0].is_empty() {
        return usage.into();
    }
    let key = format!("{}_{}", f[1], f[2]);
    let mut st = super::core::lock(&core.st);
    let table = &mut st.hash_db;
    match (f[0].to_ascii_lowercase().as_str(), f.get(3)) {
        ("insert", Some(v)) => {
            table.insert(key, v.to_string());
            "+OK\n".into()
        }
        ("insert_ifempty", Some(v)) => match table.entry(key) {
            std::collections::hash_map::Entry::Occupied(_) => "-ERR key already exists\n".into(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(v.to_string());
                "+OK\n".into()
            }
        },
        ("delete", _) => match table.remove(&key) {
            Some(_) => "+OK\n".into(),
            None => "-ERR Not found\n".into(),
        },
        ("delete_ifmatch", Some(v)) => match table.get(&key) {
            Some(x) if x == v => {
                table.remove(&key);
                "+OK\n".into()
            }
            Some(_) => "-ERR Doesn't match\n".into(),
            None => "-ERR Not found\n".into(),
        },
        ("select", _) => table.get(&key).cloned().unwrap_or_default(),
        _ => usage.into(),
    }
}
