//! A unified diff rendered for reading: per-file headers, hunk headers, old
//! and new line numbers, added and removed lines coloured, long hunks
//! collapsed, and the raw text one click away.

use leptos::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineKind {
    Added,
    Removed,
    Context,
    /// `\ No newline at end of file` and anything else inside a hunk.
    Note,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiffLine {
    pub kind: LineKind,
    pub old: Option<u32>,
    pub new: Option<u32>,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hunk {
    pub header: String,
    pub lines: Vec<DiffLine>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiffFile {
    /// The new path (or the old one for deletions); empty when the diff has no file headers.
    pub name: String,
    pub hunks: Vec<Hunk>,
}

/// `@@ -12,7 +12,10 @@ …` → (12, 12).
fn hunk_starts(header: &str) -> Option<(u32, u32)> {
    let mut parts = header.strip_prefix("@@ ")?.split_whitespace();
    let old = parts.next()?.strip_prefix('-')?;
    let new = parts.next()?.strip_prefix('+')?;
    let start = |range: &str| range.split(',').next()?.parse().ok();
    Some((start(old)?, start(new)?))
}

fn path(header: &str) -> String {
    let path = header.split('\t').next().unwrap_or(header).trim();
    path.strip_prefix("a/")
        .or_else(|| path.strip_prefix("b/"))
        .unwrap_or(path)
        .to_owned()
}

/// Lines git writes between `diff --git` and the first hunk.
const GIT_HEADER_PREFIXES: &[&str] = &[
    "index ",
    "new file mode",
    "deleted file mode",
    "old mode",
    "new mode",
    "similarity index",
    "dissimilarity index",
    "rename from",
    "rename to",
    "copy from",
    "copy to",
    "Binary files",
];

/// `diff --git a/old b/new` → `new`.
fn git_diff_path(rest: &str) -> String {
    match rest.rfind(" b/") {
        Some(at) => rest[at + 3..].to_owned(),
        None => rest.split_whitespace().last().map(path).unwrap_or_default(),
    }
}

/// Parses a unified diff; text that is not one ends up as context lines of
/// a single unnamed file, so nothing is ever hidden. Only lines inside a
/// hunk are numbered: headers (`diff --git`, `index`, modes) and text
/// outside any hunk have no line in either file.
pub fn parse(diff: &str) -> Vec<DiffFile> {
    let mut files: Vec<DiffFile> = Vec::new();
    let (mut old, mut new) = (0u32, 0u32);
    let mut in_hunk = false;
    // A `diff --git` line opened the last file, and its `---`/`+++` pair
    // names it rather than opening another.
    let mut git_file_open = false;
    let mut pending_old_name: Option<String> = None;
    for line in diff.lines() {
        if let Some(rest) = line.strip_prefix("diff --git ") {
            files.push(DiffFile {
                name: git_diff_path(rest),
                hunks: Vec::new(),
            });
            (in_hunk, git_file_open, pending_old_name) = (false, true, None);
            push_line(&mut files, LineKind::Note, None, None, line.to_owned());
            continue;
        }
        if let Some(name) = line.strip_prefix("--- ") {
            pending_old_name = Some(path(name));
            continue;
        }
        if let Some(name) = line.strip_prefix("+++ ")
            && pending_old_name.is_some()
        {
            let name = path(name);
            let old_name = pending_old_name.take().unwrap_or_default();
            let name = if name == "/dev/null" { old_name } else { name };
            match files.last_mut() {
                Some(file) if git_file_open => file.name = name,
                _ => files.push(DiffFile {
                    name,
                    hunks: Vec::new(),
                }),
            }
            (in_hunk, git_file_open) = (false, false);
            continue;
        }
        if let Some(old_name) = pending_old_name.take() {
            // A `---` line that was not a file header: keep it as text.
            let old_no = in_hunk.then(|| {
                old += 1;
                old - 1
            });
            push_line(
                &mut files,
                LineKind::Removed,
                old_no,
                None,
                format!("-- {old_name}"),
            );
        }
        if line.starts_with("@@") {
            if let Some((old_start, new_start)) = hunk_starts(line) {
                (old, new) = (old_start, new_start);
            }
            in_hunk = true;
            git_file_open = false;
            if files.is_empty() {
                files.push(DiffFile::default());
            }
            let file = files.last_mut().expect("a file exists");
            file.hunks.push(Hunk {
                header: line.to_owned(),
                lines: Vec::new(),
            });
            continue;
        }
        if !in_hunk {
            let kind = if git_file_open && GIT_HEADER_PREFIXES.iter().any(|prefix| line.starts_with(prefix)) {
                LineKind::Note
            } else {
                LineKind::Context
            };
            push_line(&mut files, kind, None, None, line.to_owned());
            continue;
        }
        let (kind, old_no, new_no) = match line.chars().next() {
            Some('+') => {
                new += 1;
                (LineKind::Added, None, Some(new - 1))
            }
            Some('-') => {
                old += 1;
                (LineKind::Removed, Some(old - 1), None)
            }
            Some('\\') => (LineKind::Note, None, None),
            _ => {
                old += 1;
                new += 1;
                (LineKind::Context, Some(old - 1), Some(new - 1))
            }
        };
        push_line(&mut files, kind, old_no, new_no, line.to_owned());
    }
    files
}

fn push_line(files: &mut Vec<DiffFile>, kind: LineKind, old: Option<u32>, new: Option<u32>, text: String) {
    if files.is_empty() {
        files.push(DiffFile::default());
    }
    let file = files.last_mut().expect("a file exists");
    if file.hunks.is_empty() {
        file.hunks.push(Hunk {
            header: String::new(),
            lines: Vec::new(),
        });
    }
    let hunk = file.hunks.last_mut().expect("a hunk exists");
    hunk.lines.push(DiffLine { kind, old, new, text });
}

/// Hunks longer than this show their first lines and a button for the rest.
const COLLAPSE_AFTER: usize = 60;

#[component]
pub fn DiffView(
    #[prop(into)] diff: String,
    /// Set when ingest cut the diff to its head and tail: the original
    /// size in bytes and the SHA-256 of the whole value.
    #[prop(optional_no_strip)]
    truncated: Option<(usize, String)>,
) -> impl IntoView {
    let raw = RwSignal::new(false);
    let files = parse(&diff);
    view! {
        <div class="diff" data-testid="diff">
            <div class="diff-toolbar">
                {truncated.map(|(bytes, sha)| view! {
                    <span class="badge badge-warning" title=format!("SHA-256 of the full value: {sha}")>
                        {format!("truncated: {} bytes originally", crate::format::count(bytes as i64))}
                    </span>
                })}
                <button type="button" class="button button-small" on:click=move |_| raw.update(|raw| *raw = !*raw)>
                    {move || if raw.get() { "Rendered" } else { "Raw" }}
                </button>
            </div>
            <Show when=move || raw.get() fallback=move || view! { <RenderedDiff files=files.clone() /> }>
                <pre class="code-block">{diff.clone()}</pre>
            </Show>
        </div>
    }
}

#[component]
fn RenderedDiff(files: Vec<DiffFile>) -> impl IntoView {
    files
        .into_iter()
        .map(|file| {
            view! {
                <section class="diff-file">
                    {(!file.name.is_empty()).then(|| view! { <header class="diff-file-name mono">{file.name.clone()}</header> })}
                    {file.hunks.into_iter().map(|hunk| view! { <HunkView hunk /> }).collect_view()}
                </section>
            }
        })
        .collect_view()
}

#[component]
fn HunkView(hunk: Hunk) -> impl IntoView {
    let expanded = RwSignal::new(false);
    let hidden = hunk.lines.len().saturating_sub(COLLAPSE_AFTER);
    let lines = StoredValue::new(hunk.lines);
    let collapsed = move || hidden != 0 && !expanded.get();
    let row = |line: &DiffLine| {
        let class = match line.kind {
            LineKind::Added => "diff-add",
            LineKind::Removed => "diff-del",
            LineKind::Context => "diff-ctx",
            LineKind::Note => "diff-note",
        };
        view! {
            <tr class=class>
                <td class="diff-ln">{line.old.map(|n| n.to_string())}</td>
                <td class="diff-ln">{line.new.map(|n| n.to_string())}</td>
                <td class="diff-code">{line.text.clone()}</td>
            </tr>
        }
    };
    view! {
        {(!hunk.header.is_empty()).then(|| view! { <div class="diff-hunk-header mono">{hunk.header.clone()}</div> })}
        <table class="diff-table mono">
            <tbody>
                {move || {
                    let shown = if expanded.get() || hidden == 0 { usize::MAX } else { COLLAPSE_AFTER };
                    lines.with_value(|lines| lines.iter().take(shown).map(row).collect_view())
                }}
            </tbody>
        </table>
        <Show when=collapsed>
            <button type="button" class="button button-small diff-expand" on:click=move |_| expanded.set(true)>
                {format!("Show {hidden} more lines")}
            </button>
        </Show>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_hunks_and_line_numbers() {
        let diff = "--- a/src/parser.rs\n+++ b/src/parser.rs\n@@ -12,3 +12,4 @@ impl Parser {\n     fn parse() {\n-        old();\n+        new();\n+        more();\n }\n--- a/old.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-gone\n\\ No newline at end of file\n";
        let files = parse(diff);
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].name, "src/parser.rs");
        let lines = &files[0].hunks[0].lines;
        assert_eq!(files[0].hunks[0].header, "@@ -12,3 +12,4 @@ impl Parser {");
        assert_eq!(
            (lines[0].kind, lines[0].old, lines[0].new),
            (LineKind::Context, Some(12), Some(12))
        );
        assert_eq!(
            (lines[1].kind, lines[1].old, lines[1].new),
            (LineKind::Removed, Some(13), None)
        );
        assert_eq!(
            (lines[2].kind, lines[2].old, lines[2].new),
            (LineKind::Added, None, Some(13))
        );
        assert_eq!((lines[3].kind, lines[3].new), (LineKind::Added, Some(14)));
        assert_eq!((lines[4].old, lines[4].new), (Some(14), Some(15)));
        assert_eq!(files[1].name, "old.txt", "a deletion is named by its old path");
        assert_eq!(files[1].hunks[0].lines[1].kind, LineKind::Note);
    }

    #[test]
    fn git_headers_name_the_file_and_only_hunk_lines_are_numbered() {
        let diff = "diff --git a/src/lib.rs b/src/lib.rs\nindex 3b18e51..a8c2f00 100644\n--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1,2 +1,2 @@\n fn main() {\n-    old();\n+    new();\n";
        let files = parse(diff);
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(files[0].name, "src/lib.rs");
        let header = &files[0].hunks[0];
        assert_eq!(header.header, "");
        let header_lines: Vec<(LineKind, Option<u32>, Option<u32>)> = header
            .lines
            .iter()
            .map(|line| (line.kind, line.old, line.new))
            .collect();
        assert_eq!(
            header_lines,
            [(LineKind::Note, None, None), (LineKind::Note, None, None)]
        );
        let hunk = &files[0].hunks[1];
        assert_eq!(
            (
                hunk.lines[0].old,
                hunk.lines[0].new,
                hunk.lines[1].old,
                hunk.lines[2].new
            ),
            (Some(1), Some(1), Some(2), Some(2))
        );
    }

    #[test]
    fn a_new_git_file_starts_at_its_diff_line() {
        let diff = "diff --git a/a.txt b/a.txt\nnew file mode 100644\n--- /dev/null\n+++ b/a.txt\n@@ -0,0 +1 @@\n+hi\ndiff --git a/b.txt b/b.txt\ndeleted file mode 100644\n--- a/b.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n";
        let names: Vec<String> = parse(diff).into_iter().map(|file| file.name).collect();
        assert_eq!(names, ["a.txt", "b.txt"]);
    }

    #[test]
    fn text_that_is_not_a_diff_is_kept() {
        let files = parse("just some output\n-- with dashes");
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].name, "");
        let texts: Vec<&str> = files[0].hunks[0]
            .lines
            .iter()
            .map(|line| line.text.as_str())
            .collect();
        assert_eq!(texts, ["just some output", "-- with dashes"]);
        assert!(
            files[0].hunks[0]
                .lines
                .iter()
                .all(|line| line.old.is_none() && line.new.is_none()),
            "text outside a hunk has no line numbers"
        );
    }
}
