//! Camera frames as the platforms deliver them (NV21 from Android's camera, BGRA from AVFoundation, RGB, JPEG),
//! turned upright and downscaled: small luma images for guidance, RGB at upload size for the JPEG encoder.

use crate::api::{CameraFrame, PixelFormat};

/// Why a pushed frame cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame {0}x{1} is empty or larger than 8192 on a side")]
    BadSize(u32, u32),
    #[error("rotation {0} is not 0, 90, 180 or 270")]
    BadRotation(u32),
    #[error("frame of {got} bytes, {format:?} {width}x{height} with row stride {stride} needs {want}")]
    Short { got: usize, want: usize, format: PixelFormat, width: u32, height: u32, stride: u32 },
    #[error("JPEG frame cannot be decoded: {0}")]
    Jpeg(String),
}

const MAX_SIDE: u32 = 8192;

/// A frame whose pixels can be read: the camera's buffer as pushed, or a decoded JPEG.
pub struct Pixels {
    data: Vec<u8>,
    format: Layout,
    width: usize,
    height: usize,
    stride: usize,
    rotation: u32,
}

#[derive(Clone, Copy)]
enum Layout {
    Nv21,
    Bgra,
    Rgb,
}

/// A single-channel image, row-major.
#[derive(Debug, Clone)]
pub struct Gray {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

impl Gray {
    pub fn at(&self, x: usize, y: usize) -> f32 {
        self.data[y * self.width + x]
    }
}

impl Pixels {
    /// Checks the buffer against its declared size and format; decodes a JPEG.
    pub fn new(frame: CameraFrame) -> Result<Pixels, FrameError> {
        let CameraFrame { bytes, width, height, format, row_stride, rotation, .. } = frame;
        if !matches!(rotation, 0 | 90 | 180 | 270) {
            return Err(FrameError::BadRotation(rotation));
        }
        if format == PixelFormat::Jpeg {
            return decode_jpeg(&bytes, rotation);
        }
        if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
            return Err(FrameError::BadSize(width, height));
        }
        let (w, h) = (width as usize, height as usize);
        let (layout, min_stride, rows) = match format {
            // NV21: a full-size Y plane, then interleaved V/U at half resolution, both with the same stride.
            PixelFormat::Nv21 => (Layout::Nv21, w, h + h.div_ceil(2)),
            PixelFormat::Bgra => (Layout::Bgra, 4 * w, h),
            PixelFormat::Rgb => (Layout::Rgb, 3 * w, h),
            PixelFormat::Jpeg => unreachable!("decoded above"),
        };
        let stride = if row_stride == 0 { min_stride } else { row_stride as usize };
        let want = stride.saturating_mul(rows - 1) + min_stride;
        if stride < min_stride || bytes.len() < want {
            return Err(FrameError::Short {
                got: bytes.len(),
                want: want.max(min_stride * rows),
                format,
                width,
                height,
                stride: row_stride,
            });
        }
        Ok(Pixels { data: bytes, format: layout, width: w, height: h, stride, rotation })
    }

    /// Size once turned upright.
    pub fn upright_size(&self) -> (usize, usize) {
        if self.rotation % 180 == 90 { (self.height, self.width) } else { (self.width, self.height) }
    }

    /// Source coordinates of upright pixel (u, v). `rotation` is how far the buffer must be turned clockwise to
    /// be upright (Android's `rotationDegrees`; iOS apps pass the angle of their video orientation).
    fn source(&self, u: usize, v: usize) -> (usize, usize) {
        let (w, h) = (self.width, self.height);
        match self.rotation {
            90 => (v, h - 1 - u),
            180 => (w - 1 - u, h - 1 - v),
            270 => (w - 1 - v, u),
            _ => (u, v),
        }
    }

    /// Luma 0-255 (full range) of source pixel (x, y).
    fn luma(&self, x: usize, y: usize) -> f32 {
        let d = &self.data;
        match self.format {
            // Camera NV21 is BT.601 limited range (16-235); stretched so thresholds mean the same for every format.
            Layout::Nv21 => ((f32::from(d[y * self.stride + x]) - 16.0) * (255.0 / 219.0)).clamp(0.0, 255.0),
            Layout::Bgra => {
                let i = y * self.stride + 4 * x;
                0.114 * f32::from(d[i]) + 0.587 * f32::from(d[i + 1]) + 0.299 * f32::from(d[i + 2])
            }
            Layout::Rgb => {
                let i = y * self.stride + 3 * x;
                0.299 * f32::from(d[i]) + 0.587 * f32::from(d[i + 1]) + 0.114 * f32::from(d[i + 2])
            }
        }
    }

    fn rgb(&self, x: usize, y: usize) -> [f32; 3] {
        let d = &self.data;
        match self.format {
            Layout::Nv21 => {
                let yy = f32::from(d[y * self.stride + x]) - 16.0;
                let c = self.height * self.stride + (y / 2) * self.stride + (x / 2) * 2;
                let (v, u) = (f32::from(d[c]) - 128.0, f32::from(d[c + 1]) - 128.0);
                [1.164 * yy + 1.596 * v, 1.164 * yy - 0.392 * u - 0.813 * v, 1.164 * yy + 2.017 * u]
            }
            Layout::Bgra => {
                let i = y * self.stride + 4 * x;
                [f32::from(d[i + 2]), f32::from(d[i + 1]), f32::from(d[i])]
            }
            Layout::Rgb => {
                let i = y * self.stride + 3 * x;
                [f32::from(d[i]), f32::from(d[i + 1]), f32::from(d[i + 2])]
            }
        }
    }

    /// The integer box factor that brings the longer upright side to at most `max_side`.
    fn factor(&self, max_side: usize) -> usize {
        let (w, h) = self.upright_size();
        w.max(h).div_ceil(max_side.max(1)).max(1)
    }

    /// Upright luma, box-averaged so the longer side is at most `max_side` (an integer factor: guidance works on
    /// a few hundred pixels, and box averaging keeps the blur measure from seeing aliasing as detail).
    pub fn gray(&self, max_side: usize) -> Gray {
        let f = self.factor(max_side);
        let (w, h) = self.upright_size();
        let (ow, oh) = ((w / f).max(1), (h / f).max(1));
        let mut data = Vec::with_capacity(ow * oh);
        let n = (f * f) as f32;
        for ov in 0..oh {
            for ou in 0..ow {
                let mut s = 0.0;
                for dv in 0..f {
                    for du in 0..f {
                        let (x, y) = self.source((ou * f + du).min(w - 1), (ov * f + dv).min(h - 1));
                        s += self.luma(x, y);
                    }
                }
                data.push(s / n);
            }
        }
        Gray { width: ow, height: oh, data }
    }

    /// Upright RGB, box-averaged to at most `max_side` on the longer side.
    pub fn rgb_image(&self, max_side: usize) -> (usize, usize, Vec<u8>) {
        let f = self.factor(max_side);
        let (w, h) = self.upright_size();
        let (ow, oh) = ((w / f).max(1), (h / f).max(1));
        let mut out = Vec::with_capacity(ow * oh * 3);
        let n = (f * f) as f32;
        for ov in 0..oh {
            for ou in 0..ow {
                let mut s = [0.0f32; 3];
                for dv in 0..f {
                    for du in 0..f {
                        let (x, y) = self.source((ou * f + du).min(w - 1), (ov * f + dv).min(h - 1));
                        let p = self.rgb(x, y);
                        (0..3).for_each(|c| s[c] += p[c]);
                    }
                }
                out.extend(s.map(|c| (c / n).round().clamp(0.0, 255.0) as u8));
            }
        }
        (ow, oh, out)
    }

    /// A JPEG of the upright frame, at most `max_side` on the longer side.
    pub fn jpeg(&self, max_side: usize, quality: u8) -> Result<Vec<u8>, String> {
        let (w, h, rgb) = self.rgb_image(max_side);
        let (w16, h16) = (u16::try_from(w).map_err(|e| e.to_string())?, u16::try_from(h).map_err(|e| e.to_string())?);
        let mut out = Vec::with_capacity(w * h / 4);
        jpeg_encoder::Encoder::new(&mut out, quality)
            .encode(&rgb, w16, h16, jpeg_encoder::ColorType::Rgb)
            .map_err(|e| e.to_string())?;
        Ok(out)
    }
}

fn decode_jpeg(bytes: &[u8], rotation: u32) -> Result<Pixels, FrameError> {
    use zune_jpeg::zune_core::bytestream::ZCursor;
    use zune_jpeg::zune_core::colorspace::ColorSpace;
    use zune_jpeg::zune_core::options::DecoderOptions;
    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::RGB)
        .set_max_width(MAX_SIDE as usize)
        .set_max_height(MAX_SIDE as usize);
    let mut dec = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    let data = dec.decode().map_err(|e| FrameError::Jpeg(format!("{e:?}")))?;
    let info = dec.info().ok_or_else(|| FrameError::Jpeg("no image header".into()))?;
    let (width, height) = (usize::from(info.width), usize::from(info.height));
    if width == 0 || height == 0 || data.len() < width * height * 3 {
        return Err(FrameError::Jpeg("the decoded image is empty".into()));
    }
    Ok(Pixels { data, format: Layout::Rgb, width, height, stride: width * 3, rotation })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(bytes: Vec<u8>, width: u32, height: u32, format: PixelFormat, rotation: u32) -> CameraFrame {
        CameraFrame { bytes, width, height, format, row_stride: 0, timestamp_ms: 0, rotation, face: None }
    }

    /// A 4x2 RGB frame whose pixel (x, y) has red = 10x + 100y.
    fn numbered() -> Vec<u8> {
        let mut b = Vec::new();
        for y in 0..2u8 {
            for x in 0..4u8 {
                b.extend([10 * x + 100 * y, 0, 0]);
            }
        }
        b
    }

    #[test]
    fn rotations_turn_the_frame_upright() {
        let red = |rotation| {
            let p = Pixels::new(frame(numbered(), 4, 2, PixelFormat::Rgb, rotation)).unwrap();
            let (w, h, rgb) = p.rgb_image(100);
            (w, h, rgb.chunks(3).map(|c| c[0]).collect::<Vec<_>>())
        };
        assert_eq!(red(0), (4, 2, vec![0, 10, 20, 30, 100, 110, 120, 130]));
        // Turned clockwise: the bottom-left source pixel comes to the top left.
        assert_eq!(red(90), (2, 4, vec![100, 0, 110, 10, 120, 20, 130, 30]));
        assert_eq!(red(180), (4, 2, vec![130, 120, 110, 100, 30, 20, 10, 0]));
        assert_eq!(red(270), (2, 4, vec![30, 130, 20, 120, 10, 110, 0, 100]));
    }

    #[test]
    fn formats_agree_on_luma_and_sizes_are_checked() {
        // A mid-grey 4x4 frame in three formats: BT.601 limited range Y=126 is full-range 128.
        let nv21 = [vec![126u8; 16], vec![128u8; 8]].concat();
        let bgra: Vec<u8> = (0..16).flat_map(|_| [128u8, 128, 128, 255]).collect();
        let rgb = vec![128u8; 48];
        for (bytes, format) in [(nv21, PixelFormat::Nv21), (bgra, PixelFormat::Bgra), (rgb, PixelFormat::Rgb)] {
            let g = Pixels::new(frame(bytes, 4, 4, format, 0)).unwrap().gray(2);
            assert_eq!((g.width, g.height), (2, 2));
            assert!(g.data.iter().all(|&l| (l - 128.0).abs() < 1.5), "{format:?}: {:?}", g.data);
        }
        assert!(matches!(Pixels::new(frame(vec![0; 10], 4, 4, PixelFormat::Nv21, 0)), Err(FrameError::Short { .. })));
        assert!(matches!(
            Pixels::new(frame(vec![0; 48], 4, 4, PixelFormat::Rgb, 45)),
            Err(FrameError::BadRotation(45))
        ));
        assert!(matches!(Pixels::new(frame(vec![], 0, 4, PixelFormat::Rgb, 0)), Err(FrameError::BadSize(0, 4))));
        assert!(matches!(Pixels::new(frame(b"nope".to_vec(), 0, 0, PixelFormat::Jpeg, 0)), Err(FrameError::Jpeg(_))));
    }

    #[test]
    fn a_padded_stride_is_honoured_and_jpeg_round_trips() {
        // 2x2 BGRA rows padded to 16 bytes, as CVPixelBuffer pads them.
        let mut b = vec![0u8; 32];
        for (y, x) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            b[y * 16 + 4 * x..y * 16 + 4 * x + 4].copy_from_slice(&[200, 100, 50, 255]);
        }
        let f = CameraFrame { row_stride: 16, ..frame(b, 2, 2, PixelFormat::Bgra, 0) };
        let p = Pixels::new(f).unwrap();
        assert_eq!(p.rgb_image(10).2, vec![50, 100, 200, 50, 100, 200, 50, 100, 200, 50, 100, 200]);
        let big = Pixels::new(frame(vec![90u8; 64 * 48 * 3], 64, 48, PixelFormat::Rgb, 90)).unwrap();
        let jpeg = big.jpeg(32, 90).unwrap();
        let back = Pixels::new(frame(jpeg, 0, 0, PixelFormat::Jpeg, 0)).unwrap();
        assert_eq!(back.upright_size(), (24, 32), "turned upright and halved");
        assert!(back.gray(100).data.iter().all(|&l| (l - 90.0).abs() < 3.0));
    }
}
