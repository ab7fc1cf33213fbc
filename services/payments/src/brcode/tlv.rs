//! EMV TLV fields: a two-digit id, a two-digit length, the value. Lengths
//! count characters (BR Code values are restricted to printable ASCII here,
//! so characters and bytes agree).

use super::BrCodeError;

/// One field as it appears in a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field<'a> {
    /// `00`..`99`.
    pub id: u8,
    pub value: &'a str,
}

/// Appends `id`, the length and `value` to `out`.
pub fn push(out: &mut String, id: u8, value: &str) -> Result<(), BrCodeError> {
    if id > 99 {
        return Err(BrCodeError::Field {
            id,
            problem: "ids are two digits",
        });
    }
    if !value.bytes().all(|b| (0x20..0x7F).contains(&b)) {
        return Err(BrCodeError::Field {
            id,
            problem: "values are printable ASCII",
        });
    }
    if value.is_empty() || value.len() > 99 {
        return Err(BrCodeError::Field {
            id,
            problem: "values have 1 to 99 characters",
        });
    }
    out.push_str(&format!("{id:02}{:02}{value}", value.len()));
    Ok(())
}

/// Splits `text` into its fields, in order; an error if a length runs past
/// the end or an id/length is not two digits.
pub fn parse(text: &str) -> Result<Vec<Field<'_>>, BrCodeError> {
    let bytes = text.as_bytes();
    let mut fields = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let head = text
            .get(at..at + 4)
            .filter(|h| h.bytes().all(|b| b.is_ascii_digit()))
            .ok_or(BrCodeError::Malformed { offset: at })?;
        let id: u8 = head[..2]
            .parse()
            .map_err(|_| BrCodeError::Malformed { offset: at })?;
        let len: usize = head[2..]
            .parse()
            .map_err(|_| BrCodeError::Malformed { offset: at })?;
        let value = text
            .get(at + 4..at + 4 + len)
            .ok_or(BrCodeError::Malformed { offset: at })?;
        fields.push(Field { id, value });
        at += 4 + len;
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let mut out = String::new();
        push(&mut out, 0, "01").unwrap();
        push(&mut out, 26, "0014br.gov.bcb.pix").unwrap();
        assert_eq!(out, "0002012618".to_owned() + "0014br.gov.bcb.pix");
        let fields = parse(&out).unwrap();
        assert_eq!(
            fields,
            [
                Field { id: 0, value: "01" },
                Field {
                    id: 26,
                    value: "0014br.gov.bcb.pix"
                }
            ]
        );
        let inner = parse(fields[1].value).unwrap();
        assert_eq!(
            inner,
            [Field {
                id: 0,
                value: "br.gov.bcb.pix"
            }]
        );
    }

    #[test]
    fn refuses_truncated_and_malformed_input() {
        assert!(parse("000201").is_ok());
        assert!(parse("0002").is_err());
        assert!(parse("00020").is_err());
        assert!(parse("0A0201").is_err());
        assert!(parse("000501").is_err());
        let mut out = String::new();
        assert!(push(&mut out, 59, "").is_err());
        assert!(push(&mut out, 59, &"x".repeat(100)).is_err());
        assert!(push(&mut out, 59, "São").is_err());
    }
}
