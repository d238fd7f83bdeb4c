//! TEMPORARY stand-in for docker's word processing (replaced by the real one).

pub fn expand(
    word: &str,
    _escape: char,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = word.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' => {}
            '$' => {
                let mut name = String::new();
                let braced = chars.peek() == Some(&'{');
                if braced {
                    chars.next();
                }
                while let Some(&n) = chars.peek() {
                    if n.is_ascii_alphanumeric() || n == '_' {
                        name.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                if braced {
                    chars.next();
                }
                out.push_str(&vars(&name).unwrap_or_default());
            }
            c => out.push(c),
        }
    }
    Ok(out)
}
