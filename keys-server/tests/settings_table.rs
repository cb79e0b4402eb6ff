//! The README's settings table is the list of settings (`SETTINGS` in keys-axum):
//! names, defaults, where each applies and what it means. Regenerate it with
//! `BLESS=1 cargo test -p blindcast-keys --test settings_table`.

use blindcast_keys_axum::settings::markdown_table;

const BEGIN: &str = "<!-- settings table: generated from keys-axum's settings list -->\n";
const END: &str = "<!-- end of settings table -->";

#[test]
fn the_readme_table_is_the_list() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let (Some(start), Some(end)) = (readme.find(BEGIN), readme.find(END)) else {
        panic!("{path}: the markers {BEGIN:?} and {END:?} are missing");
    };
    let start = start + BEGIN.len();
    let table = markdown_table();
    if std::env::var_os("BLESS").is_some() {
        let updated = format!("{}{table}{}", &readme[..start], &readme[end..]);
        std::fs::write(path, updated).unwrap_or_else(|e| panic!("{path}: {e}"));
        return;
    }
    assert_eq!(
        &readme[start..end],
        table,
        "{path}: the settings table differs from the list; regenerate it with \
         BLESS=1 cargo test -p blindcast-keys --test settings_table"
    );
}
