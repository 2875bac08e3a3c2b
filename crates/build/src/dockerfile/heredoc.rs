//! BuildKit's heredoc markers (`<<EOF`, `<<-EOF`, `<<"EOF"`, `3<<EOF`) and reading their bodies.

use super::ast::Heredoc;
use super::error::Problem;

/// Reads a heredoc body from the lines after the instruction: (delimiter, strip tabs) → body.
pub(crate) type Bodies<'b> = &'b mut dyn FnMut(&str, bool) -> Option<String>;

/// A marker word's parts.
struct Marker {
    fd: Option<u32>,
    strip_tabs: bool,
    name: String,
    expand: bool,
}

/// Parses `word` as a heredoc marker; None when it is not one (`<<<`, a bare `<<`, quotes
/// around the whole word).
fn marker(word: &str) -> Option<Marker> {
    let digits = word.chars().take_while(char::is_ascii_digit).count();
    let rest = word[digits..].strip_prefix("<<")?;
    let (strip_tabs, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    if rest.is_empty() || rest.contains('<') {
        return None;
    }
    let quoted = rest.contains(['"', '\'']);
    let name: String = rest.chars().filter(|c| *c != '"' && *c != '\'').collect();
    if name.is_empty() {
        return None;
    }
    Some(Marker {
        fd: (digits > 0).then(|| word[..digits].parse().ok()).flatten(),
        strip_tabs,
        name,
        expand: !quoted,
    })
}

/// Whether `word` is a heredoc marker.
pub(crate) fn is_marker(word: &str) -> bool {
    marker(word).is_some()
}

/// If `word` is a heredoc marker, reads its body; Ok(None) when it is an ordinary word.
pub(crate) fn read(word: &str, bodies: Bodies<'_>) -> Result<Option<Heredoc>, Problem> {
    let Some(m) = marker(word) else {
        return Ok(None);
    };
    let body =
        bodies(&m.name, m.strip_tabs).ok_or_else(|| format!("unterminated heredoc {word}"))?;
    Ok(Some(Heredoc {
        name: m.name,
        body,
        expand: m.expand,
        strip_tabs: m.strip_tabs,
        fd: m.fd,
    }))
}

/// The script a shell-form RUN hands to its shell when a heredoc is not the whole command
/// (`RUN cat <<EOF > f`): the command line, then each body and its delimiter line, so that the
/// shell itself reads the heredocs, as BuildKit does.
pub(crate) fn shell_script(command: &str, docs: &[Heredoc]) -> String {
    let mut script = command.to_string();
    for d in docs {
        script.push('\n');
        script.push_str(&d.body);
        script.push_str(&d.name);
    }
    script
}
