//! `google.api.http` path templates: parsing (`/v1/{name=shelves/*}/books:get`)
//! and matching a request path against one, as Envoy's transcoder does.
//!
//! ```text
//! Template = "/" Segments [ Verb ] ;
//! Segments = Segment { "/" Segment } ;
//! Segment  = "*" | "**" | LITERAL | Variable ;
//! Variable = "{" FieldPath [ "=" Segments ] "}" ;
//! Verb     = ":" LITERAL ;
//! ```

use std::fmt;

use percent_encoding::percent_decode_str;

/// One segment of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// Matches exactly this text.
    Literal(String),
    /// `*`: exactly one non-empty segment.
    Single,
    /// `**`: zero or more segments (only last).
    Multi,
}

/// A `{field.path=segments}` binding: the segments `start..end` go to the
/// field (`end` is `None` when the variable ends with `**`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Variable {
    /// Field path in proto names, e.g. `["shelf", "id"]`.
    pub(crate) field_path: Vec<String>,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl Variable {
    /// The variable's name in an OpenAPI path: `shelf.name` becomes
    /// `shelf_name`, since many tools read `{a.b}` as attribute access.
    pub(crate) fn openapi_name(&self) -> String {
        self.field_path.join("_")
    }
}

/// A parsed path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathTemplate {
    pub(crate) segments: Vec<Segment>,
    pub(crate) variables: Vec<Variable>,
    pub(crate) verb: Option<String>,
}

/// Why a template does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TemplateError(String);

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TemplateError {}

/// The result of a successful match: each variable's field path and value
/// (percent-decoded), and a specificity used to pick among several matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Match {
    pub(crate) bindings: Vec<(Vec<String>, String)>,
    pub(crate) specificity: Vec<u8>,
}

impl PathTemplate {
    /// Parses `text`; an error says what is wrong.
    pub(crate) fn parse(text: &str) -> Result<Self, TemplateError> {
        let fail = |why: &str| TemplateError(format!("path template {text:?}: {why}"));
        let rest = text
            .strip_prefix('/')
            .ok_or_else(|| fail("must start with '/'"))?;
        let (body, verb) = split_verb(rest);
        let mut segments = Vec::new();
        let mut variables = Vec::new();
        let mut chars = body.char_indices().peekable();
        let mut token = String::new();
        let mut expect_segment = true;
        while let Some((_, c)) = chars.next() {
            match c {
                '{' => {
                    if !token.is_empty() || !expect_segment {
                        return Err(fail("a variable must be a whole segment"));
                    }
                    let mut inner = String::new();
                    let mut closed = false;
                    for (_, c) in chars.by_ref() {
                        if c == '}' {
                            closed = true;
                            break;
                        }
                        inner.push(c);
                    }
                    if !closed {
                        return Err(fail("unclosed '{'"));
                    }
                    let (path, pattern) = inner.split_once('=').unwrap_or((&inner, "*"));
                    let field_path: Vec<String> = path.split('.').map(str::to_owned).collect();
                    if field_path.iter().any(|p| !is_ident(p)) {
                        return Err(fail(&format!("bad field path {path:?}")));
                    }
                    if variables
                        .iter()
                        .any(|v: &Variable| v.field_path == field_path)
                    {
                        return Err(fail(&format!("field {path} bound twice")));
                    }
                    let start = segments.len();
                    for part in pattern.split('/') {
                        segments.push(parse_plain_segment(part).map_err(|e| fail(&e))?);
                    }
                    variables.push(Variable {
                        field_path,
                        start,
                        end: segments.len(),
                    });
                    expect_segment = false;
                }
                '/' => {
                    if expect_segment {
                        segments.push(parse_plain_segment(&token).map_err(|e| fail(&e))?);
                    }
                    token.clear();
                    expect_segment = true;
                }
                '}' => return Err(fail("unbalanced '}'")),
                c => {
                    if !expect_segment {
                        return Err(fail("a variable must be a whole segment"));
                    }
                    token.push(c);
                }
            }
        }
        if expect_segment {
            segments.push(parse_plain_segment(&token).map_err(|e| fail(&e))?);
        }
        if let Some(i) = segments.iter().position(|s| *s == Segment::Multi)
            && i + 1 != segments.len()
        {
            return Err(fail("'**' must be the last segment"));
        }
        if let Some(verb) = &verb
            && verb.is_empty()
        {
            return Err(fail("empty verb"));
        }
        Ok(Self {
            segments,
            variables,
            verb,
        })
    }

    /// Matches a request path (no query string). A last segment with `:` is
    /// tried as `segment:verb` for templates with a verb, and whole for the
    /// others (so `{id}` may hold a colon).
    pub(crate) fn matches(&self, path: &str) -> Option<Match> {
        let rest = path.strip_prefix('/')?;
        let parts: Vec<&str> = match &self.verb {
            Some(verb) => {
                let (head, tail) = rest.rsplit_once(':')?;
                if tail != verb || tail.contains('/') {
                    return None;
                }
                head.split('/').collect()
            }
            None => rest.split('/').collect(),
        };
        let mut specificity = Vec::with_capacity(self.segments.len() + 1);
        let mut ends = Vec::with_capacity(self.segments.len());
        let mut at = 0;
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => {
                    let part = parts.get(at)?;
                    if decode(part) != *text {
                        return None;
                    }
                    at += 1;
                    specificity.push(3);
                }
                Segment::Single => {
                    if parts.get(at)?.is_empty() {
                        return None;
                    }
                    at += 1;
                    specificity.push(2);
                }
                Segment::Multi => {
                    at = parts.len();
                    specificity.push(1);
                }
            }
            ends.push(at);
        }
        if at != parts.len() {
            return None;
        }
        specificity.push(u8::from(self.verb.is_some()));
        let bindings = self
            .variables
            .iter()
            .map(|v| {
                let from = if v.start == 0 { 0 } else { ends[v.start - 1] };
                let to = ends[v.end - 1];
                let value = parts[from..to]
                    .iter()
                    .map(|p| decode(p))
                    .collect::<Vec<_>>()
                    .join("/");
                (v.field_path.clone(), value)
            })
            .collect();
        Some(Match {
            bindings,
            specificity,
        })
    }

    /// The OpenAPI form of the path: `{field.path}` for each variable.
    pub(crate) fn openapi_path(&self) -> String {
        let mut out = String::new();
        let mut i = 0;
        while i < self.segments.len() {
            out.push('/');
            if let Some(v) = self.variables.iter().find(|v| v.start == i) {
                out.push('{');
                out.push_str(&v.openapi_name());
                out.push('}');
                i = v.end;
                continue;
            }
            match &self.segments[i] {
                Segment::Literal(text) => out.push_str(text),
                Segment::Single => out.push_str(&format!("{{_{i}}}")),
                Segment::Multi => out.push_str(&format!("{{_{i}}}")),
            }
            i += 1;
        }
        if let Some(verb) = &self.verb {
            out.push(':');
            out.push_str(verb);
        }
        out
    }

    /// The pattern a variable's value must have, when it is not one segment
    /// (`shelves/*`), for documentation.
    pub(crate) fn variable_pattern(&self, variable: &Variable) -> Option<String> {
        let segments = &self.segments[variable.start..variable.end];
        if segments == [Segment::Single] {
            return None;
        }
        Some(
            segments
                .iter()
                .map(|s| match s {
                    Segment::Literal(t) => t.as_str(),
                    Segment::Single => "*",
                    Segment::Multi => "**",
                })
                .collect::<Vec<_>>()
                .join("/"),
        )
    }
}

/// Splits `a/b:verb` into (`a/b`, `verb`), ignoring colons inside `{}`
/// and before the last `/`.
fn split_verb(text: &str) -> (&str, Option<String>) {
    let mut depth = 0usize;
    let mut colon = None;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            '/' if depth == 0 => colon = None,
            ':' if depth == 0 => colon = Some(i),
            _ => {}
        }
    }
    match colon {
        Some(i) => (&text[..i], Some(text[i + 1..].to_owned())),
        None => (text, None),
    }
}

fn parse_plain_segment(text: &str) -> Result<Segment, String> {
    match text {
        "" => Err("empty segment".into()),
        "*" => Ok(Segment::Single),
        "**" => Ok(Segment::Multi),
        t if t.contains(['{', '}', '*', '=']) => Err(format!("bad segment {t:?}")),
        t => Ok(Segment::Literal(t.to_owned())),
    }
}

fn is_ident(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn decode(segment: &str) -> String {
    percent_decode_str(segment).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bindings(template: &str, path: &str) -> Option<Vec<(String, String)>> {
        PathTemplate::parse(template)
            .unwrap()
            .matches(path)
            .map(|m| {
                m.bindings
                    .into_iter()
                    .map(|(f, v)| (f.join("."), v))
                    .collect()
            })
    }

    fn pairs(list: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
        Some(
            list.iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn literals_match_exactly() {
        assert_eq!(bindings("/v1/identity/me", "/v1/identity/me"), pairs(&[]));
        assert_eq!(bindings("/v1/identity/me", "/v1/identity/me/"), None);
        assert_eq!(bindings("/v1/identity/me", "/v1/identity"), None);
        assert_eq!(
            bindings("/.well-known/jwks.json", "/.well-known/jwks.json"),
            pairs(&[])
        );
    }

    #[test]
    fn a_variable_binds_one_decoded_segment() {
        let t = "/v1/identity/people/{person_id}";
        assert_eq!(
            bindings(t, "/v1/identity/people/p%201"),
            pairs(&[("person_id", "p 1")])
        );
        assert_eq!(
            bindings(t, "/v1/identity/people/a%2Fb"),
            pairs(&[("person_id", "a/b")])
        );
        assert_eq!(bindings(t, "/v1/identity/people/"), None);
        assert_eq!(bindings(t, "/v1/identity/people/a/b"), None);
        // Without a verb in the template the colon belongs to the value.
        assert_eq!(
            bindings(t, "/v1/identity/people/a:b"),
            pairs(&[("person_id", "a:b")])
        );
    }

    #[test]
    fn nested_field_paths_and_patterns_bind_several_segments() {
        let t = "/v1/{shelf.name=shelves/*}/books/{book.id}";
        assert_eq!(
            bindings(t, "/v1/shelves/s1/books/b2"),
            pairs(&[("shelf.name", "shelves/s1"), ("book.id", "b2")])
        );
        assert_eq!(bindings(t, "/v1/racks/s1/books/b2"), None);
        assert_eq!(
            PathTemplate::parse(t).unwrap().openapi_path(),
            "/v1/{shelf_name}/books/{book_id}"
        );
    }

    #[test]
    fn double_wildcard_takes_the_rest() {
        let t = "/v1/files/{path=**}";
        assert_eq!(bindings(t, "/v1/files/a/b/c"), pairs(&[("path", "a/b/c")]));
        assert_eq!(bindings(t, "/v1/files"), pairs(&[("path", "")]));
        assert_eq!(bindings("/v1/*/x", "/v1/anything/x"), pairs(&[]));
    }

    #[test]
    fn verbs_are_split_from_the_last_segment() {
        let t = "/v1/identity/token:refresh";
        assert_eq!(bindings(t, "/v1/identity/token:refresh"), pairs(&[]));
        assert_eq!(bindings(t, "/v1/identity/token:validate"), None);
        assert_eq!(bindings(t, "/v1/identity/token"), None);
        let t = "/v1/{name=orders/*}:cancel";
        assert_eq!(
            bindings(t, "/v1/orders/o1:cancel"),
            pairs(&[("name", "orders/o1")])
        );
        let parsed = PathTemplate::parse(t).unwrap();
        assert_eq!(parsed.verb.as_deref(), Some("cancel"));
        assert_eq!(parsed.openapi_path(), "/v1/{name}:cancel");
        assert_eq!(
            parsed.variable_pattern(&parsed.variables[0]).as_deref(),
            Some("orders/*")
        );
    }

    #[test]
    fn literals_beat_variables() {
        let literal = PathTemplate::parse("/v1/identity/customers:identify").unwrap();
        let variable = PathTemplate::parse("/v1/identity/{x}").unwrap();
        let path = "/v1/identity/customers:identify";
        let a = literal.matches(path).unwrap().specificity;
        let b = variable.matches(path).unwrap().specificity;
        assert!(a > b);
    }

    #[test]
    fn bad_templates_are_refused() {
        for bad in [
            "v1/x",
            "/v1/{x",
            "/v1/x}",
            "/v1/a{x}",
            "/v1/**/x",
            "/v1//x",
            "/v1/{x}/{x}",
            "/v1/x:",
        ] {
            assert!(PathTemplate::parse(bad).is_err(), "{bad} should not parse");
        }
    }
}
