//! CRC16-CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final
//! XOR): the checksum of field 63 of an EMV QR payload.

/// The CRC16-CCITT-FALSE of `data`.
pub fn crc16_ccitt_false(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The checksum as field 63 carries it: four uppercase hex digits.
pub fn crc_hex(data: &[u8]) -> String {
    format!("{:04X}", crc16_ccitt_false(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_check_values() {
        // The catalogue check value of CRC-16/CCITT-FALSE (a.k.a. IBM-3740).
        assert_eq!(crc16_ccitt_false(b"123456789"), 0x29B1);
        assert_eq!(crc16_ccitt_false(b""), 0xFFFF);
        assert_eq!(crc_hex(b"123456789"), "29B1");
    }
}
