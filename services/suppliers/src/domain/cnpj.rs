//! The CNPJ (Cadastro Nacional da Pessoa Jurídica): 12 base characters and 2
//! numeric mod-11 check digits. Since July 2026 the base may hold uppercase
//! letters (IN RFB 2.229/2024): every character counts as its ASCII code
//! minus 48, so `0`–`9` are 0–9 and `A` is 17, `Z` is 42.
//!
//! Input may carry the usual punctuation (`12.ABC.345/01DE-35`) and lowercase
//! letters: both are normalised away, so one company has one spelling and the
//! uniqueness of CNPJs holds whatever a person typed.

use std::fmt;

/// Weights of the first check digit, over the 12 base characters.
const FIRST_WEIGHTS: [u32; 12] = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
/// Weights of the second check digit, over the base and the first digit.
const SECOND_WEIGHTS: [u32; 13] = [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];

/// A CNPJ whose check digits are right: 14 characters, no punctuation,
/// letters in uppercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cnpj(String);

/// Why a CNPJ was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CnpjError {
    /// A character other than a letter, a digit or `.` `/` `-` and spaces.
    #[error("a CNPJ holds only letters, digits and the punctuation . / -")]
    Character,
    /// Not 14 characters once punctuation is removed.
    #[error("a CNPJ has 14 characters")]
    Length,
    /// One of the last two characters is a letter.
    #[error("the last two characters of a CNPJ are digits")]
    LetterInCheckDigits,
    /// All fourteen characters are the same (00.000.000/0000-00 and so on).
    #[error("a CNPJ cannot be one repeated digit")]
    Repeated,
    /// The check digits do not match.
    #[error("the CNPJ check digits do not match")]
    CheckDigits,
}

impl Cnpj {
    /// Parses `12.345.678/0001-95`, `12345678000195` or `12.abc.345/01de-35`.
    pub fn parse(input: &str) -> Result<Self, CnpjError> {
        let mut chars = Vec::with_capacity(14);
        for c in input.chars() {
            match c {
                '0'..='9' | 'A'..='Z' => chars.push(c),
                'a'..='z' => chars.push(c.to_ascii_uppercase()),
                '.' | '/' | '-' | ' ' => {}
                _ => return Err(CnpjError::Character),
            }
        }
        if chars.len() != 14 {
            return Err(CnpjError::Length);
        }
        if !chars[12..].iter().all(char::is_ascii_digit) {
            return Err(CnpjError::LetterInCheckDigits);
        }
        if chars.iter().all(|c| *c == chars[0]) {
            return Err(CnpjError::Repeated);
        }
        let values: Vec<u32> = chars.iter().map(|c| value(*c)).collect();
        let first = check_digit(&values[..12], &FIRST_WEIGHTS);
        let second = check_digit(&values[..13], &SECOND_WEIGHTS);
        if values[12] != first || values[13] != second {
            return Err(CnpjError::CheckDigits);
        }
        Ok(Self(chars.into_iter().collect()))
    }

    /// The 14 characters, without punctuation.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A base character's value: its ASCII code minus 48 (`'0'` → 0, `'A'` → 17).
fn value(c: char) -> u32 {
    u32::from(c) - u32::from('0')
}

/// Mod-11 check digit: remainder below 2 gives 0, otherwise 11 − remainder.
fn check_digit(values: &[u32], weights: &[u32]) -> u32 {
    let sum: u32 = values.iter().zip(weights).map(|(v, w)| v * w).sum();
    match sum % 11 {
        0 | 1 => 0,
        rest => 11 - rest,
    }
}

impl fmt::Display for Cnpj {
    /// The usual punctuated form, `12.ABC.345/01DE-35`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.0;
        write!(
            f,
            "{}.{}.{}/{}-{}",
            &c[0..2],
            &c[2..5],
            &c[5..8],
            &c[8..12],
            &c[12..14]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_numeric_cnpjs_with_or_without_punctuation() {
        for valid in [
            "11.222.333/0001-81",
            "11222333000181",
            "12.345.678/0001-95",
            "12345678000195",
            " 12 345 678 0001 95 ",
        ] {
            assert!(Cnpj::parse(valid).is_ok(), "{valid}");
        }
        let cnpj = Cnpj::parse("12.345.678/0001-95").unwrap();
        assert_eq!(cnpj.as_str(), "12345678000195");
        assert_eq!(cnpj.to_string(), "12.345.678/0001-95");
    }

    #[test]
    fn accepts_the_receita_federal_alphanumeric_example() {
        // 12ABC34501DE35, by hand. Values (ASCII − 48):
        //   1 2 A=17 B=18 C=19 3 4 5 0 1 D=20 E=21
        // First digit, weights 5 4 3 2 9 8 7 6 5 4 3 2:
        //   5+8+51+36+171+24+28+30+0+4+60+42 = 459; 459 % 11 = 8; 11−8 = 3.
        // Second digit, weights 6 5 4 3 2 9 8 7 6 5 4 3 2 over the base and 3:
        //   6+10+68+54+38+27+32+35+0+5+80+63+6 = 424; 424 % 11 = 6; 11−6 = 5.
        let cnpj = Cnpj::parse("12.ABC.345/01DE-35").unwrap();
        assert_eq!(cnpj.as_str(), "12ABC34501DE35");
        assert_eq!(cnpj.to_string(), "12.ABC.345/01DE-35");
        assert_eq!(Cnpj::parse("12ABC34501DE35"), Ok(cnpj));
    }

    #[test]
    fn normalises_lowercase_letters_to_uppercase() {
        let lower = Cnpj::parse("12.abc.345/01de-35").unwrap();
        assert_eq!(lower.as_str(), "12ABC34501DE35");
        assert_eq!(Cnpj::parse("12.AbC.345/01dE-35"), Ok(lower));
    }

    #[test]
    fn refuses_wrong_check_digits() {
        assert_eq!(
            Cnpj::parse("11.222.333/0001-82"),
            Err(CnpjError::CheckDigits)
        );
        assert_eq!(Cnpj::parse("12345678000196"), Err(CnpjError::CheckDigits));
        assert_eq!(
            Cnpj::parse("12.ABC.345/01DE-53"),
            Err(CnpjError::CheckDigits)
        );
        // A letter changed in the base changes the digits.
        assert_eq!(
            Cnpj::parse("12.ABD.345/01DE-35"),
            Err(CnpjError::CheckDigits)
        );
    }

    #[test]
    fn refuses_repeated_digits_whatever_their_check_digits() {
        for d in 0..=9 {
            let cnpj = d.to_string().repeat(14);
            assert_eq!(Cnpj::parse(&cnpj), Err(CnpjError::Repeated), "{cnpj}");
        }
        // 00000000000000 would pass the mod-11 check: only this rule stops it.
        assert_eq!(Cnpj::parse("00.000.000/0000-00"), Err(CnpjError::Repeated));
    }

    #[test]
    fn refuses_wrong_lengths_letters_in_check_digits_and_other_characters() {
        assert_eq!(Cnpj::parse(""), Err(CnpjError::Length));
        assert_eq!(Cnpj::parse("1122233300018"), Err(CnpjError::Length));
        assert_eq!(Cnpj::parse("112223330001811"), Err(CnpjError::Length));
        assert_eq!(
            Cnpj::parse("12ABC34501DE3A"),
            Err(CnpjError::LetterInCheckDigits)
        );
        assert_eq!(
            Cnpj::parse("11.222.333\\0001-81"),
            Err(CnpjError::Character)
        );
        assert_eq!(Cnpj::parse("11222333000181é"), Err(CnpjError::Character));
    }
}
