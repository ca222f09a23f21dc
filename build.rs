//! Embeds every `weights/<name>.safetensors` present at build time into the binary
//! (see `src/weights.rs`, `bundled()`), so a fresh install works offline.

use std::{env, fs, path::Path};

fn main() {
    let dir = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap()).join("weights");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut entries: Vec<_> = fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
        .collect();
    entries.sort();
    let mut code = String::from("&[\n");
    for p in entries {
        println!("cargo:rerun-if-changed={}", p.display());
        let name = p.file_stem().unwrap().to_string_lossy();
        code += &format!(
            "    ({name:?}, include_bytes!({:?})),\n",
            p.display().to_string()
        );
    }
    code += "]\n";
    fs::write(
        Path::new(&env::var("OUT_DIR").unwrap()).join("bundled.rs"),
        code,
    )
    .unwrap();
}
