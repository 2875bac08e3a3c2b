//! Substitution and word splitting, table-driven.

use super::subst::{expand, expand_heredoc, expand_words};

fn env(name: &str) -> Option<String> {
    let v = match name {
        "A" => "a",
        "B" => "bee",
        "EMPTY" => "",
        "SP" => "x  y",
        "PATH" => "/usr/local/bin:/usr/bin",
        "FILE" => "archive.tar.gz",
        "1" => "one",
        "Ünï" => "uni",
        _ => return None,
    };
    Some(v.to_string())
}

#[test]
fn expand_table() {
    let cases: &[(&str, &str)] = &[
        ("", ""),
        ("plain", "plain"),
        ("$A", "a"),
        ("${A}", "a"),
        ("${A}_x", "a_x"),
        ("$A_x", ""),
        ("$A-x", "a-x"),
        ("$UNSET", ""),
        ("x${UNSET}y", "xy"),
        ("$", "$"),
        ("a$", "a$"),
        ("$ a", "$ a"),
        ("$/", "$/"),
        ("$$", ""),
        ("$1", "one"),
        ("$12", ""),
        ("$Ünï", "uni"),
        ("${A:-d}", "a"),
        ("${UNSET:-d}", "d"),
        ("${EMPTY:-d}", "d"),
        ("${EMPTY-d}", ""),
        ("${UNSET-d}", "d"),
        ("${A:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${UNSET+alt}", ""),
        ("${UNSET:+alt}", ""),
        ("${UNSET:-with spaces}", "with spaces"),
        ("${UNSET:-$B}", "bee"),
        ("${UNSET:-${NOPE:-${B}x}}", "beex"),
        ("${UNSET:-\"q }\"}", "q }"),
        ("${UNSET:-'$A'}", "$A"),
        ("${A:?boom}", "a"),
        ("${UNSET:-}", ""),
        ("${FILE#*.}", "tar.gz"),
        ("${FILE##*.}", "gz"),
        ("${FILE%.*}", "archive.tar"),
        ("${FILE%%.*}", "archive"),
        ("${FILE#nomatch}", "archive.tar.gz"),
        ("${FILE#a*c}", "hive.tar.gz"),
        ("${FILE##*a*}", ""),
        ("${FILE%?.gz}", "archive.ta"),
        ("${FILE#*}", "archive.tar.gz"),
        ("${FILE#*******************************x}", "archive.tar.gz"),
        ("${PATH%%:*}", "/usr/local/bin"),
        ("${PATH/usr/opt}", "/opt/local/bin:/usr/bin"),
        ("${PATH//usr/opt}", "/opt/local/bin:/opt/bin"),
        ("${FILE/.*/}", "archive"),
        ("${FILE//a/}", "rchive.tr.gz"),
        ("${FILE/x/y}", "archive.tar.gz"),
        ("${UNSET/a/b}", ""),
        ("${B//e/$A}", "baa"),
        ("\\$A", "$A"),
        ("\\${A}", "${A}"),
        ("\\\\$A", "\\a"),
        ("a\\ b", "a b"),
        ("trail\\", "trail\\"),
        ("'$A'", "$A"),
        ("'a \"b\"'", "a \"b\""),
        ("\"$A\"", "a"),
        ("\"${A} and $B\"", "a and bee"),
        ("\"\\$A\"", "$A"),
        ("\"\\\"\"", "\""),
        ("\"a\\nb\"", "a\\nb"),
        ("\"it's\"", "it's"),
        ("pre\"mid\"post", "premidpost"),
        ("$SP", "x  y"),
        ("a b  c", "a b  c"),
    ];
    for (word, want) in cases {
        let got = expand(word, '\\', &env);
        assert_eq!(got.as_deref(), Ok(*want), "expand({word:?})");
    }
}

#[test]
fn expand_backtick_escape() {
    let cases: &[(&str, &str)] = &[
        ("`$A", "$A"),
        ("\\$A", "\\a"),
        ("C:\\path\\$A", "C:\\path\\a"),
        ("\"`\"\"", "\""),
        ("a` b", "a b"),
    ];
    for (word, want) in cases {
        assert_eq!(expand(word, '`', &env).as_deref(), Ok(*want), "{word:?}");
    }
}

#[test]
fn expand_errors() {
    let cases: &[(&str, &str)] = &[
        (
            "${}",
            "bad substitution: no variable name after ${ in \"${}\"",
        ),
        ("${A", "missing '}' in \"${A\""),
        ("${A:-x", "missing '}' in \"${A:-x\""),
        (
            "${A:x}",
            "unsupported modifier (:x) in substitution in \"${A:x}\"",
        ),
        ("${A/a}", "missing '/' in \"${A/a}\""),
        ("${A/a/b", "missing '}' in \"${A/a/b\""),
        (
            "${A:#x}",
            "unsupported modifier (:#) in substitution in \"${A:#x}\"",
        ),
        ("'open", "unterminated single quote in \"'open\""),
        ("\"open", "unterminated double quote in \"\\\"open\""),
        (
            "${UNSET:?}",
            "UNSET: is not allowed to be unset in \"${UNSET:?}\"",
        ),
        (
            "${EMPTY:?}",
            "EMPTY: is not allowed to be empty in \"${EMPTY:?}\"",
        ),
        (
            "${UNSET?}",
            "UNSET: is not allowed to be unset in \"${UNSET?}\"",
        ),
        (
            "${EMPTY:?must be set}",
            "EMPTY: must be set in \"${EMPTY:?must be set}\"",
        ),
    ];
    for (word, want) in cases {
        let got = expand(word, '\\', &env).map_err(|e| e.to_string());
        assert_eq!(got, Err(want.to_string()), "{word:?}");
    }
    assert_eq!(expand("${EMPTY?}", '\\', &env).as_deref(), Ok(""));
}

#[test]
fn words_table() {
    let cases: &[(&str, &[&str])] = &[
        ("", &[]),
        ("   ", &[]),
        ("a b", &["a", "b"]),
        ("  a   b  ", &["a", "b"]),
        ("\"a b\" c", &["a b", "c"]),
        ("'a b' c", &["a b", "c"]),
        ("a\\ b c", &["a b", "c"]),
        ("\"\" x", &["", "x"]),
        ("$SP z", &["x", "y", "z"]),
        ("\"$SP\" z", &["x  y", "z"]),
        ("${UNSET:-p q}", &["p", "q"]),
        ("$A$B", &["abee"]),
        ("k=\"v w\" k2='$A'", &["k=v w", "k2=$A"]),
        ("$UNSET", &[]),
        ("a\tb\nc", &["a", "b", "c"]),
    ];
    for (text, want) in cases {
        let got = expand_words(text, '\\', &env).unwrap();
        assert_eq!(got, *want, "expand_words({text:?})");
    }
    assert!(expand_words("a 'b", '\\', &env).is_err());
}

#[test]
fn heredoc_bodies_substitute_variables_and_keep_quotes_and_escapes() {
    let cases: &[(&str, &str)] = &[
        ("echo \"$A\" '$A'\n", "echo \"a\" 'a'\n"),
        ("${UNSET:-dflt} ${A:+alt}\n", "dflt alt\n"),
        ("keep \\$A and \\n\n", "keep \\$A and \\n\n"),
        (
            "no vars, 'quotes' \"kept\"\n",
            "no vars, 'quotes' \"kept\"\n",
        ),
    ];
    for (body, want) in cases {
        let got = expand_heredoc(body, '\\', &env).unwrap();
        assert_eq!(got, *want, "expand_heredoc({body:?})");
    }
}
