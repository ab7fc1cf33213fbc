//! The Pix "BR Code": the EMV® merchant-presented QR payload specified by the
//! Banco Central do Brasil ("Manual de Padrões para Iniciação do Pix"),
//! built here and parsed back field by field, CRC included.
//!
//! Layout: 00 format ("01"), 01 point of initiation ("11" reusable, "12"
//! single use; absent on static codes), 26 merchant account (00 GUI
//! `br.gov.bcb.pix`, 01 key or 25 URL, 02 description), 52 MCC, 53 currency
//! ("986", BRL), 54 amount, 58 country, 59 merchant name (≤ 25), 60 city
//! (≤ 15), 62 additional data (05 txid), 63 CRC16-CCITT-FALSE over
//! everything before it, "6304" included.

pub mod crc;
pub mod tlv;

/// The GUI of Pix merchant-account templates.
pub const PIX_GUI: &str = "br.gov.bcb.pix";
/// The txid of a code without a transaction id.
pub const NO_TXID: &str = "***";

/// Whether a code may be paid once or many times (field 01).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initiation {
    /// "11": may be paid many times.
    Reusable,
    /// "12": meant for one payment.
    SingleUse,
}

impl Initiation {
    fn code(self) -> &'static str {
        match self {
            Self::Reusable => "11",
            Self::SingleUse => "12",
        }
    }
}

/// A BR Code's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrCode {
    /// Field 01; `None` on static codes that omit it.
    pub initiation: Option<Initiation>,
    /// The receiver's Pix key (26-01).
    pub key: Option<String>,
    /// The payload location of a dynamic code (26-25), without scheme.
    pub url: Option<String>,
    /// A message to the payer (26-02).
    pub description: Option<String>,
    /// Merchant category code (52), "0000" when not informed.
    pub merchant_category_code: String,
    /// ISO 4217 numeric currency (53): "986" for BRL.
    pub currency: String,
    /// The amount (54) in centavos; `None` lets the payer type it.
    pub amount_centavos: Option<i64>,
    /// ISO 3166-1 alpha-2 (58): "BR".
    pub country: String,
    /// Field 59, at most 25 characters.
    pub merchant_name: String,
    /// Field 60, at most 15 characters.
    pub merchant_city: String,
    /// Transaction id (62-05): up to 25 letters and digits, or "***".
    pub txid: String,
}

/// Why a BR Code cannot be built or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrCodeError {
    #[error("field {id:02}: {problem}")]
    Field { id: u8, problem: &'static str },
    #[error("malformed TLV at offset {offset}")]
    Malformed { offset: usize },
    #[error("missing field: {0}")]
    Missing(&'static str),
    #[error("CRC mismatch: the payload states {stated}, its content gives {computed}")]
    Crc { stated: String, computed: String },
}

impl BrCode {
    /// A single-use code for `amount_centavos` to `key`, BRL, MCC 0000, BR.
    pub fn pix(
        key: &str,
        merchant_name: &str,
        merchant_city: &str,
        amount_centavos: i64,
        txid: &str,
    ) -> Self {
        Self {
            initiation: Some(Initiation::SingleUse),
            key: Some(key.to_owned()),
            url: None,
            description: None,
            merchant_category_code: "0000".into(),
            currency: "986".into(),
            amount_centavos: Some(amount_centavos),
            country: "BR".into(),
            merchant_name: merchant_name.to_owned(),
            merchant_city: merchant_city.to_owned(),
            txid: txid.to_owned(),
        }
    }

    /// The payload ("Pix copia e cola"), CRC included.
    pub fn encode(&self) -> Result<String, BrCodeError> {
        let field = |id, problem| BrCodeError::Field { id, problem };
        if self.merchant_name.chars().count() > 25 {
            return Err(field(59, "at most 25 characters"));
        }
        if self.merchant_city.chars().count() > 15 {
            return Err(field(60, "at most 15 characters"));
        }
        if !valid_txid(&self.txid) {
            return Err(field(62, "txid: up to 25 letters and digits, or ***"));
        }
        let mut out = String::with_capacity(160);
        tlv::push(&mut out, 0, "01")?;
        if let Some(initiation) = self.initiation {
            tlv::push(&mut out, 1, initiation.code())?;
        }
        let mut account = String::new();
        tlv::push(&mut account, 0, PIX_GUI)?;
        match (&self.key, &self.url) {
            (Some(key), _) => tlv::push(&mut account, 1, key)?,
            (None, Some(url)) => tlv::push(&mut account, 25, url)?,
            (None, None) => return Err(BrCodeError::Missing("26-01 key or 26-25 url")),
        }
        if let Some(description) = self.description.as_deref().filter(|d| !d.is_empty()) {
            tlv::push(&mut account, 2, description)?;
        }
        tlv::push(&mut out, 26, &account)?;
        tlv::push(&mut out, 52, &self.merchant_category_code)?;
        tlv::push(&mut out, 53, &self.currency)?;
        if let Some(amount) = self.amount_centavos {
            if amount <= 0 {
                return Err(field(54, "more than zero"));
            }
            tlv::push(&mut out, 54, &format_amount(amount))?;
        }
        tlv::push(&mut out, 58, &self.country)?;
        tlv::push(&mut out, 59, &self.merchant_name)?;
        tlv::push(&mut out, 60, &self.merchant_city)?;
        let mut additional = String::new();
        tlv::push(&mut additional, 5, &self.txid)?;
        tlv::push(&mut out, 62, &additional)?;
        out.push_str("6304");
        let crc = crc::crc_hex(out.as_bytes());
        out.push_str(&crc);
        Ok(out)
    }

    /// Reads a payload back, checking its structure and its CRC.
    pub fn parse(payload: &str) -> Result<Self, BrCodeError> {
        check_crc(payload)?;
        let fields = tlv::parse(payload)?;
        match fields.first() {
            Some(tlv::Field { id: 0, value: "01" }) => {}
            _ => {
                return Err(BrCodeError::Field {
                    id: 0,
                    problem: "the payload must start with 000201",
                });
            }
        }
        let mut code = Self {
            initiation: None,
            key: None,
            url: None,
            description: None,
            merchant_category_code: String::new(),
            currency: String::new(),
            amount_centavos: None,
            country: String::new(),
            merchant_name: String::new(),
            merchant_city: String::new(),
            txid: String::new(),
        };
        let mut pix_account = false;
        for field in &fields[1..] {
            match field.id {
                1 => {
                    code.initiation = Some(match field.value {
                        "11" => Initiation::Reusable,
                        "12" => Initiation::SingleUse,
                        _ => {
                            return Err(BrCodeError::Field {
                                id: 1,
                                problem: "must be 11 or 12",
                            });
                        }
                    });
                }
                26..=51 => {
                    let inner = tlv::parse(field.value)?;
                    let is_pix = inner
                        .iter()
                        .any(|f| f.id == 0 && f.value.eq_ignore_ascii_case(PIX_GUI));
                    if !is_pix {
                        continue;
                    }
                    pix_account = true;
                    for f in inner {
                        match f.id {
                            1 => code.key = Some(f.value.to_owned()),
                            2 => code.description = Some(f.value.to_owned()),
                            25 => code.url = Some(f.value.to_owned()),
                            _ => {}
                        }
                    }
                }
                52 => code.merchant_category_code = field.value.to_owned(),
                53 => code.currency = field.value.to_owned(),
                54 => code.amount_centavos = Some(parse_amount(field.value)?),
                58 => code.country = field.value.to_owned(),
                59 => code.merchant_name = field.value.to_owned(),
                60 => code.merchant_city = field.value.to_owned(),
                62 => {
                    for f in tlv::parse(field.value)? {
                        if f.id == 5 {
                            code.txid = f.value.to_owned();
                        }
                    }
                }
                _ => {}
            }
        }
        if !pix_account {
            return Err(BrCodeError::Missing(
                "26 merchant account with GUI br.gov.bcb.pix",
            ));
        }
        if code.key.is_none() && code.url.is_none() {
            return Err(BrCodeError::Missing("26-01 key or 26-25 url"));
        }
        for (value, name) in [
            (&code.merchant_category_code, "52 merchant category code"),
            (&code.currency, "53 currency"),
            (&code.country, "58 country"),
            (&code.merchant_name, "59 merchant name"),
            (&code.merchant_city, "60 merchant city"),
            (&code.txid, "62-05 txid"),
        ] {
            if value.is_empty() {
                return Err(BrCodeError::Missing(name));
            }
        }
        Ok(code)
    }
}

/// Checks that `payload` ends with field 63 (length 04) and that its value is
/// the CRC of everything before it, "6304" included.
pub fn check_crc(payload: &str) -> Result<(), BrCodeError> {
    let split = payload
        .len()
        .checked_sub(4)
        .filter(|&at| payload.is_char_boundary(at) && payload[..at].ends_with("6304"))
        .ok_or(BrCodeError::Missing("63 CRC as the last field"))?;
    let (content, stated) = payload.split_at(split);
    let computed = crc::crc_hex(content.as_bytes());
    if !stated.eq_ignore_ascii_case(&computed) {
        return Err(BrCodeError::Crc {
            stated: stated.to_owned(),
            computed,
        });
    }
    Ok(())
}

/// Centavos as field 54 writes them: `12.50`.
pub fn format_amount(centavos: i64) -> String {
    format!("{}.{:02}", centavos / 100, centavos % 100)
}

fn parse_amount(text: &str) -> Result<i64, BrCodeError> {
    let bad = BrCodeError::Field {
        id: 54,
        problem: "an amount like 12.50",
    };
    let (units, fraction) = text.split_once('.').unwrap_or((text, ""));
    if units.is_empty()
        || fraction.len() > 2
        || !units
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return Err(bad);
    }
    let units: i64 = units.parse().map_err(|_| bad.clone())?;
    let fraction: i64 = format!("{fraction:0<2}").parse().map_err(|_| bad.clone())?;
    units
        .checked_mul(100)
        .and_then(|u| u.checked_add(fraction))
        .ok_or(bad)
}

fn valid_txid(txid: &str) -> bool {
    txid == NO_TXID
        || (!txid.is_empty() && txid.len() <= 25 && txid.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// `text` in the characters a BR Code carries: Portuguese accents folded to
/// their base letters, anything else outside printable ASCII dropped, at most
/// `max` characters, trimmed.
pub fn ascii_fold(text: &str, max: usize) -> String {
    let folded: String = text
        .chars()
        .filter_map(|c| {
            Some(match c {
                'á' | 'à' | 'â' | 'ã' | 'ä' => 'a',
                'Á' | 'À' | 'Â' | 'Ã' | 'Ä' => 'A',
                'é' | 'è' | 'ê' | 'ë' => 'e',
                'É' | 'È' | 'Ê' | 'Ë' => 'E',
                'í' | 'ì' | 'î' | 'ï' => 'i',
                'Í' | 'Ì' | 'Î' | 'Ï' => 'I',
                'ó' | 'ò' | 'ô' | 'õ' | 'ö' => 'o',
                'Ó' | 'Ò' | 'Ô' | 'Õ' | 'Ö' => 'O',
                'ú' | 'ù' | 'û' | 'ü' => 'u',
                'Ú' | 'Ù' | 'Û' | 'Ü' => 'U',
                'ç' => 'c',
                'Ç' => 'C',
                'ñ' => 'n',
                'Ñ' => 'N',
                c if (' '..='~').contains(&c) => c,
                _ => return None,
            })
        })
        .take(max)
        .collect();
    folded.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The static example of the Banco Central's BR Code manual (random key,
    /// "Fulano de Tal", BRASILIA, no amount, txid ***), byte for byte.
    const MANUAL_EXAMPLE: &str = "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-4266554400005204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***63041D3D";

    fn manual_example() -> BrCode {
        BrCode {
            initiation: None,
            amount_centavos: None,
            ..BrCode::pix(
                "123e4567-e12b-12d1-a456-426655440000",
                "Fulano de Tal",
                "BRASILIA",
                1,
                NO_TXID,
            )
        }
    }

    #[test]
    fn reproduces_the_manual_example_byte_for_byte() {
        assert_eq!(manual_example().encode().unwrap(), MANUAL_EXAMPLE);
    }

    #[test]
    fn parses_the_manual_example_field_by_field() {
        assert_eq!(BrCode::parse(MANUAL_EXAMPLE).unwrap(), manual_example());
    }

    #[test]
    fn a_payment_code_round_trips_with_amount_description_and_txid() {
        let code = BrCode {
            description: Some("Pedido 42".into()),
            ..BrCode::pix(
                "pix@malha.dev",
                "Malha Lanchonete",
                "SAO PAULO",
                3250,
                "MALHA0A1B2C3D4E5F6G7H8I9J",
            )
        };
        let payload = code.encode().unwrap();
        assert!(payload.starts_with("000201010212"), "{payload}");
        assert!(payload.contains("540532.50"), "{payload}");
        check_crc(&payload).unwrap();
        assert_eq!(BrCode::parse(&payload).unwrap(), code);
    }

    #[test]
    fn a_changed_character_breaks_the_crc() {
        let tampered = MANUAL_EXAMPLE.replace("Fulano", "Fulana");
        assert!(matches!(
            BrCode::parse(&tampered),
            Err(BrCodeError::Crc { .. })
        ));
        assert!(BrCode::parse(&MANUAL_EXAMPLE[..MANUAL_EXAMPLE.len() - 1]).is_err());
        assert!(BrCode::parse("").is_err());
    }

    #[test]
    fn refuses_codes_without_the_mandatory_fields() {
        let mut without_city = String::from(
            "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-4266554400005204000053039865802BR5913Fulano de Tal62070503***6304",
        );
        without_city.push_str(&crc::crc_hex(without_city.as_bytes()));
        assert_eq!(
            BrCode::parse(&without_city),
            Err(BrCodeError::Missing("60 merchant city"))
        );
    }

    #[test]
    fn amounts_are_written_with_two_decimals_and_read_back() {
        assert_eq!(format_amount(1), "0.01");
        assert_eq!(format_amount(123_456), "1234.56");
        assert_eq!(parse_amount("1234.56"), Ok(123_456));
        assert_eq!(parse_amount("10"), Ok(1000));
        assert_eq!(parse_amount("10.5"), Ok(1050));
        assert!(parse_amount("1,50").is_err());
        assert!(parse_amount("1.505").is_err());
    }

    #[test]
    fn limits_are_enforced_when_building() {
        let long_name = BrCode::pix("k", &"x".repeat(26), "CITY", 100, "T1");
        assert!(long_name.encode().is_err());
        let bad_txid = BrCode::pix("k", "Name", "CITY", 100, "has-dash");
        assert!(bad_txid.encode().is_err());
        assert_eq!(
            ascii_fold("  Lanchonete São João ", 25),
            "Lanchonete Sao Joao"
        );
        assert_eq!(ascii_fold("Açaí 🍔 Bar", 25), "Acai  Bar");
    }
}
