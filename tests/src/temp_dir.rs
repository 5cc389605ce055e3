//! A scratch directory for one test, removed when the test ends, pass or fail.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct TempDir(PathBuf);

impl TempDir {
    /// `$TMPDIR/handsoff-{label}-{pid}-{n}`: unique across tests running in parallel.
    pub fn new(label: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "handsoff-{label}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// Writes `text` to `name` in this directory and returns the file's path.
    /// The directory itself.
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::TempDir;

    #[test]
    fn the_directory_and_its_files_are_gone_after_drop() {
        let dir = TempDir::new("temp-dir-test");
        let file = dir.file("a.json", "{}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "{}");
        let other = TempDir::new("temp-dir-test");
        assert_ne!(dir.to_path_buf(), other.to_path_buf());
        let path = dir.to_path_buf();
        drop(dir);
        assert!(!path.exists() && !file.exists());
    }
}
