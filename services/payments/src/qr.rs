//! QR images of a Pix code, PNG and SVG, rendered off the async runtime
//! (encoding takes milliseconds).

use std::io::Cursor;

use anyhow::Context;
use qrcode::{EcLevel, QrCode};

/// A Pix code as images.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QrImages {
    pub png: Vec<u8>,
    pub svg: String,
}

/// Smallest side of the rendered images, in pixels.
const MIN_SIDE: u32 = 240;

/// Renders `payload` as PNG and SVG on the blocking pool.
pub async fn render(payload: String) -> anyhow::Result<QrImages> {
    tokio::task::spawn_blocking(move || render_now(&payload))
        .await
        .context("the QR rendering task panicked")?
}

/// Renders `payload` as PNG and SVG on this thread.
pub fn render_now(payload: &str) -> anyhow::Result<QrImages> {
    // Level M: what banking apps' own Pix QR codes use.
    let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M)
        .context("the payload does not fit a QR code")?;
    let image = code
        .render::<image::Luma<u8>>()
        .min_dimensions(MIN_SIDE, MIN_SIDE)
        .build();
    let mut png = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .context("encoding the QR code as PNG")?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(MIN_SIDE, MIN_SIDE)
        .build();
    Ok(QrImages { png, svg })
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_png_and_svg() {
        let images = super::render_now("00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-4266554400005204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***63041D3D").unwrap();
        assert_eq!(&images.png[..8], b"\x89PNG\r\n\x1a\n");
        assert!(images.svg.contains("<svg"), "{}", &images.svg[..100]);
    }
}
