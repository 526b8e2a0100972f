//! A run folder's `config.json` (image, text and graph runs) as `eval`,
//! `predict` and `export` read it, then the model it describes: a config
//! must not make the command allocate without bound or panic.
#![no_main]

use torchlet_cli::graph::GraphRunConfig;
use torchlet_cli::run::RunConfig;
use torchlet_cli::text::TextRunConfig;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let dir = torchlet_fuzz::scratch_dir();
    std::fs::write(dir.join("config.json"), data).expect("the scratch folder is writable");
    if let Ok(config) = RunConfig::load(dir) {
        // No model.safetensors in the folder: loading must fail cleanly.
        assert!(config.load_model(dir).is_err());
    }
    if let Ok(config) = TextRunConfig::load(dir) {
        let _ = config.build_model(None);
        assert!(config.load_run(dir).is_err());
    }
    let _ = GraphRunConfig::load(dir);
});
