use super::support::*;
use crate::audit::{verify_paths, Problem, VerifyOptions};

fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn save(path: &std::path::Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn check(dir: &std::path::Path) -> Result<crate::audit::VerifyReport, crate::audit::VerifyFailure> {
    verify_paths(&[dir.to_path_buf()], VerifyOptions::default())
}

#[test]
fn an_untouched_multi_file_log_passes() {
    let dir = temp_dir("ok");
    let files = write_log(&dir, 60);
    assert!(files.len() >= 3, "{files:?}");
    let report = check(&dir).unwrap();
    assert_eq!(
        (report.records, report.first_seq, report.last_seq),
        (60, 1, 60)
    );
    assert_eq!(report.files, files.len());
    assert!(!report.torn_tail);
}

#[test]
fn a_one_byte_edit_names_the_modified_record() {
    let dir = temp_dir("edit");
    let files = write_log(&dir, 30);
    let mut l = lines(&files[0]);
    l[2] = l[2].replacen("req-2", "req-7", 1);
    save(&files[0], &l);
    let e = check(&dir).unwrap_err();
    assert_eq!(
        (e.problem, e.line, e.seq),
        (Problem::Modified, 3, Some(3)),
        "{e}"
    );
    assert_eq!(e.file, files[0]);
}

#[test]
fn a_deleted_line_is_named() {
    let dir = temp_dir("del");
    let files = write_log(&dir, 30);
    let mut l = lines(&files[0]);
    l.remove(3);
    save(&files[0], &l);
    let e = check(&dir).unwrap_err();
    assert_eq!(
        (e.problem, e.line, e.seq),
        (Problem::Deleted, 4, Some(5)),
        "{e}"
    );
    assert!(e.detail.contains("seq 4 is missing"), "{e}");
}

#[test]
fn a_swapped_pair_is_reordered() {
    let dir = temp_dir("swap");
    let files = write_log(&dir, 30);
    let mut l = lines(&files[0]);
    l.swap(3, 4);
    save(&files[0], &l);
    let e = check(&dir).unwrap_err();
    assert_eq!(
        (e.problem, e.line, e.seq),
        (Problem::Reordered, 4, Some(5)),
        "{e}"
    );
}

#[test]
fn an_inserted_line_is_named() {
    let dir = temp_dir("ins");
    let files = write_log(&dir, 30);
    let mut l = lines(&files[0]);
    let copy = l[1].clone();
    l.insert(4, copy);
    save(&files[0], &l);
    let e = check(&dir).unwrap_err();
    assert_eq!(
        (e.problem, e.line, e.seq),
        (Problem::Inserted, 5, Some(2)),
        "{e}"
    );
}

#[test]
fn a_removed_middle_file_is_named() {
    let dir = temp_dir("file");
    let files = write_log(&dir, 60);
    assert!(files.len() >= 3);
    std::fs::remove_file(&files[1]).unwrap();
    let e = check(&dir).unwrap_err();
    assert_eq!((e.problem, e.line), (Problem::Deleted, 1), "{e}");
    assert_eq!(e.file, files[2]);
    assert!(e.detail.contains("removed file"), "{e}");
}

#[test]
fn a_missing_first_file_needs_partial() {
    let dir = temp_dir("first");
    let files = write_log(&dir, 60);
    std::fs::remove_file(&files[0]).unwrap();
    assert_eq!(check(&dir).unwrap_err().problem, Problem::BadStart);
    let ok = verify_paths(std::slice::from_ref(&dir), VerifyOptions { partial: true }).unwrap();
    assert_eq!(ok.last_seq, 60);
}
