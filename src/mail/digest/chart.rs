//! The digest's charts, drawn by contactd into an RGB buffer and encoded as PNG: calls per
//! interval, service level per interval, and each operator's occupancy. Only numbers are
//! drawn (a 3×5 pixel font of digits, `:`, `.`, `%`, `-`), so no font file and no system
//! library is needed; what a bar is (names, legend, zone) is said in the HTML around the
//! image, in the mail's language.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, TimeDelta, Utc};

use super::{day_start, Digest, Kpi, QueueTotals};

/// Which chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    /// Offered and answered calls per interval, all queues.
    Calls,
    /// Service level per interval, all queues.
    ServiceLevel,
    /// Each operator's occupancy, in the order of the operators table.
    Occupancy,
}

/// A chart ready to be attached inline.
#[derive(Debug, Clone)]
pub struct Chart {
    pub kind: ChartKind,
    /// Without the angle brackets: the HTML refers to it as `cid:…`.
    pub content_id: String,
    pub file_name: String,
    pub png: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// The value at the top of the scale (calls; 100 for percentages).
    pub scale_max: u64,
}

/// One chart interval, all queues together.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    pub start: DateTime<Utc>,
    pub totals: QueueTotals,
}

/// Every interval of the period, those without calls too (so the axis is the whole day or
/// week), each with all queues taken together.
pub fn slots(d: &Digest, kpi: &Kpi) -> Vec<Slot> {
    let zone = d.zone();
    let mut by_start: BTreeMap<DateTime<Utc>, Vec<&QueueTotals>> = BTreeMap::new();
    for row in &kpi.intervals {
        by_start.entry(row.start).or_default().push(&row.totals);
    }
    let end = day_start(zone, d.last_day() + Days::new(1));
    let step = TimeDelta::minutes(i64::from(kpi.interval_minutes.max(1)));
    let mut out = Vec::new();
    let mut start = day_start(zone, d.first_day);
    while start < end {
        // a day bucket starts at local midnight, which DST may move off the 24-hour step
        let next = if kpi.interval_minutes >= 1440 {
            day_start(zone, start.with_timezone(&zone).date_naive() + Days::new(1))
        } else {
            start + step
        };
        let rows = by_start.get(&start).cloned().unwrap_or_default();
        out.push(Slot {
            start,
            totals: QueueTotals::merge("", rows),
        });
        start = next;
    }
    out
}

/// The charts of a digest: none without KPIs.
pub fn charts(d: &Digest) -> Vec<Chart> {
    let Some(kpi) = d.kpi.available() else {
        return Vec::new();
    };
    let slots = slots(d, kpi);
    let labels = slot_labels(d, &slots);
    let mut out = vec![
        calls_chart(&slots, &labels),
        service_level_chart(&slots, &labels),
    ];
    if !kpi.operators.is_empty() {
        let occupancy: Vec<Option<f64>> = kpi.operators.iter().map(|o| o.occupancy).collect();
        out.push(occupancy_chart(&occupancy));
    }
    out
}

/// The x-axis label under each slot, `None` where none is written: every 3 hours of a day
/// (`06:00`), every day of a week (`01.12`).
fn slot_labels(d: &Digest, slots: &[Slot]) -> Vec<Option<String>> {
    let zone = d.zone();
    slots
        .iter()
        .map(|s| {
            let local = s.start.with_timezone(&zone);
            if slots.len() <= 14 {
                Some(local.format("%d.%m").to_string())
            } else if local.format("%M").to_string() == "00"
                && local.format("%H").to_string().parse::<u32>().unwrap_or(1) % 3 == 0
            {
                Some(local.format("%H:%M").to_string())
            } else {
                None
            }
        })
        .collect()
}

const WHITE: [u8; 3] = [255, 255, 255];
const AXIS: [u8; 3] = [90, 90, 90];
const GRID: [u8; 3] = [225, 225, 225];
const OFFERED: [u8; 3] = [158, 202, 225];
const ANSWERED: [u8; 3] = [49, 130, 189];
const LEVEL: [u8; 3] = [49, 163, 84];
const OCCUPANCY: [u8; 3] = [230, 85, 13];

const LEFT: u32 = 44;
const RIGHT: u32 = 12;
const TOP: u32 = 12;
const BOTTOM: u32 = 24;
const PLOT_W: u32 = 672;
const PLOT_H: u32 = 200;

/// Smallest of 1, 2, 5 × 10^k at least `v` (and at least 1).
fn nice_step(v: f64) -> u64 {
    let mut p: u64 = 1;
    loop {
        for m in [1, 2, 5] {
            if (m * p) as f64 >= v {
                return m * p;
            }
        }
        p = p.saturating_mul(10);
    }
}

fn bar_chart_frame(slots: usize, scale_max: u64, unit: &str, labels: &[Option<String>]) -> Canvas {
    let bar_w = (PLOT_W / slots.max(1) as u32).max(2);
    let width = LEFT + bar_w * slots.max(1) as u32 + RIGHT;
    let mut c = Canvas::new(width, TOP + PLOT_H + BOTTOM);
    for i in 0..=4u32 {
        let y = TOP + PLOT_H - PLOT_H * i / 4;
        c.fill(
            LEFT,
            y,
            width - LEFT - RIGHT,
            1,
            if i == 0 { AXIS } else { GRID },
        );
        let value = format!("{}{unit}", scale_max * u64::from(i) / 4);
        let tw = text_width(&value);
        c.text(
            LEFT.saturating_sub(tw + 4),
            y.saturating_sub(5),
            &value,
            AXIS,
        );
    }
    c.fill(LEFT, TOP, 1, PLOT_H, AXIS);
    for (i, label) in labels.iter().enumerate() {
        if let Some(l) = label {
            let x = LEFT + bar_w * i as u32;
            c.fill(x, TOP + PLOT_H, 1, 4, AXIS);
            c.text(x, TOP + PLOT_H + 8, l, AXIS);
        }
    }
    c
}

fn bar_x(slots: usize, i: usize) -> (u32, u32) {
    let bar_w = (PLOT_W / slots.max(1) as u32).max(2);
    let gap = if bar_w > 4 { bar_w / 5 } else { 0 };
    (LEFT + 1 + bar_w * i as u32 + gap / 2, bar_w - gap)
}

fn height(value: f64, max: f64) -> u32 {
    if max <= 0.0 {
        return 0;
    }
    ((value / max).clamp(0.0, 1.0) * f64::from(PLOT_H)).round() as u32
}

fn calls_chart(slots: &[Slot], labels: &[Option<String>]) -> Chart {
    let most = slots.iter().map(|s| s.totals.offered).max().unwrap_or(0);
    let scale_max = 4 * nice_step(most as f64 / 4.0);
    let mut c = bar_chart_frame(slots.len(), scale_max, "", labels);
    for (i, s) in slots.iter().enumerate() {
        let (x, w) = bar_x(slots.len(), i);
        for (value, colour) in [(s.totals.offered, OFFERED), (s.totals.answered, ANSWERED)] {
            let h = height(value as f64, scale_max as f64);
            c.fill(x, TOP + PLOT_H - h, w, h, colour);
        }
    }
    c.finish(ChartKind::Calls, "calls", scale_max)
}

fn service_level_chart(slots: &[Slot], labels: &[Option<String>]) -> Chart {
    let mut c = bar_chart_frame(slots.len(), 100, "%", labels);
    for (i, s) in slots.iter().enumerate() {
        let (x, w) = bar_x(slots.len(), i);
        if let Some(level) = s.totals.service_level {
            let h = height(level, 1.0).max(1);
            c.fill(x, TOP + PLOT_H - h, w, h, LEVEL);
        }
    }
    c.finish(ChartKind::ServiceLevel, "service-level", 100)
}

/// Horizontal bars, one per operator, numbered 1.. as in the operators table.
fn occupancy_chart(occupancy: &[Option<f64>]) -> Chart {
    const ROW: u32 = 22;
    let width = LEFT + PLOT_W + RIGHT + 40;
    let mut c = Canvas::new(width, TOP + ROW * occupancy.len() as u32 + BOTTOM);
    let bottom = TOP + ROW * occupancy.len() as u32;
    for i in 0..=4u32 {
        let x = LEFT + PLOT_W * i / 4;
        c.fill(x, TOP, 1, bottom - TOP, if i == 0 { AXIS } else { GRID });
        let value = format!("{}%", 25 * i);
        c.text(
            x.saturating_sub(text_width(&value) / 2),
            bottom + 8,
            &value,
            AXIS,
        );
    }
    c.fill(LEFT, bottom, PLOT_W, 1, AXIS);
    for (i, occ) in occupancy.iter().enumerate() {
        let y = TOP + ROW * i as u32;
        let n = (i + 1).to_string();
        c.text(LEFT.saturating_sub(text_width(&n) + 6), y + 6, &n, AXIS);
        if let Some(o) = occ {
            let w = ((o.clamp(0.0, 1.0)) * f64::from(PLOT_W)).round() as u32;
            c.fill(LEFT + 1, y + 4, w.max(1), ROW - 8, OCCUPANCY);
            c.text(LEFT + w + 6, y + 6, &format!("{:.0}%", o * 100.0), AXIS);
        } else {
            c.text(LEFT + 6, y + 6, "-", AXIS);
        }
    }
    c.finish(ChartKind::Occupancy, "occupancy", 100)
}

/// An RGB image being drawn.
struct Canvas {
    width: u32,
    height: u32,
    px: Vec<u8>,
}

impl Canvas {
    fn new(width: u32, height: u32) -> Canvas {
        Canvas {
            width,
            height,
            px: WHITE.repeat((width * height) as usize),
        }
    }

    /// A rectangle, clipped to the image.
    fn fill(&mut self, x: u32, y: u32, w: u32, h: u32, rgb: [u8; 3]) {
        for yy in y..(y + h).min(self.height) {
            for xx in x..(x + w).min(self.width) {
                let i = ((yy * self.width + xx) * 3) as usize;
                self.px[i..i + 3].copy_from_slice(&rgb);
            }
        }
    }

    /// `s` at twice the font's size, its top left corner at (x, y); unknown characters are
    /// left blank.
    fn text(&mut self, x: u32, y: u32, s: &str, rgb: [u8; 3]) {
        for (n, ch) in s.chars().enumerate() {
            let Some(rows) = glyph(ch) else { continue };
            let gx = x + n as u32 * ADVANCE;
            for (r, bits) in rows.iter().enumerate() {
                for col in 0..3u32 {
                    if bits & (0b100 >> col) != 0 {
                        self.fill(gx + col * 2, y + r as u32 * 2, 2, 2, rgb);
                    }
                }
            }
        }
    }

    fn finish(self, kind: ChartKind, name: &str, scale_max: u64) -> Chart {
        Chart {
            kind,
            content_id: format!("{name}@contactd"),
            file_name: format!("{name}.png"),
            png: encode(self.width, self.height, &self.px),
            width: self.width,
            height: self.height,
            scale_max,
        }
    }
}

/// Pixels from one character to the next (3 wide at scale 2, and a gap).
const ADVANCE: u32 = 8;

fn text_width(s: &str) -> u32 {
    (s.chars().count() as u32 * ADVANCE).saturating_sub(2)
}

/// Rows of a 3×5 glyph, the high bit on the left.
fn glyph(ch: char) -> Option<[u8; 5]> {
    Some(match ch {
        '0' => [0b111, 0b101, 0b101, 0b101, 0b111],
        '1' => [0b010, 0b110, 0b010, 0b010, 0b111],
        '2' => [0b111, 0b001, 0b111, 0b100, 0b111],
        '3' => [0b111, 0b001, 0b111, 0b001, 0b111],
        '4' => [0b101, 0b101, 0b111, 0b001, 0b001],
        '5' => [0b111, 0b100, 0b111, 0b001, 0b111],
        '6' => [0b111, 0b100, 0b111, 0b101, 0b111],
        '7' => [0b111, 0b001, 0b001, 0b001, 0b001],
        '8' => [0b111, 0b101, 0b111, 0b101, 0b111],
        '9' => [0b111, 0b101, 0b111, 0b001, 0b111],
        ':' => [0b000, 0b010, 0b000, 0b010, 0b000],
        '.' => [0b000, 0b000, 0b000, 0b000, 0b010],
        '-' => [0b000, 0b000, 0b111, 0b000, 0b000],
        '%' => [0b101, 0b001, 0b010, 0b100, 0b101],
        _ => return None,
    })
}

/// An 8-bit RGB PNG of `px`.
fn encode(width: u32, height: u32, px: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, width, height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    // Writing a well-formed image into memory cannot fail.
    let mut w = enc.write_header().expect("png header into memory");
    w.write_image_data(px).expect("png data into memory");
    w.finish().expect("png into memory");
    out
}

#[cfg(test)]
mod tests {
    use super::super::{sample, Section};
    use super::*;

    fn decode(png_data: &[u8]) -> (u32, u32, Vec<u8>) {
        let dec = png::Decoder::new(std::io::Cursor::new(png_data));
        let mut r = dec.read_info().unwrap();
        let mut buf = vec![0; r.output_buffer_size().unwrap()];
        let info = r.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    fn pixel(img: &(u32, u32, Vec<u8>), x: u32, y: u32) -> [u8; 3] {
        let i = ((y * img.0 + x) * 3) as usize;
        [img.2[i], img.2[i + 1], img.2[i + 2]]
    }

    #[test]
    fn a_day_has_48_slots_with_queues_added_together() {
        let d = sample::digest();
        let slots = slots(&d, d.kpi.available().unwrap());
        assert_eq!(slots.len(), 48);
        assert_eq!(slots[0].start, sample::t("2026-11-30T21:00:00Z"));
        // 10:00 Moscow: general 10 and meter 4
        assert_eq!(slots[20].totals.offered, 14);
        assert_eq!(slots[20].totals.answered, 13);
        assert_eq!(slots[21].totals.offered, 0);
        assert_eq!(slots[21].totals.service_level, None);
    }

    #[test]
    fn the_calls_chart_draws_bars_to_scale() {
        let d = sample::digest();
        let charts = charts(&d);
        assert_eq!(charts.len(), 3);
        let calls = &charts[0];
        assert_eq!((calls.kind, calls.scale_max), (ChartKind::Calls, 20));
        let img = decode(&calls.png);
        assert_eq!((img.0, img.1), (calls.width, calls.height));
        // slot 20 (14 offered, 13 answered of a 20 scale): answered colour up to 13/20
        let (x, w) = bar_x(48, 20);
        let mid = x + w / 2;
        let top_answered = TOP + PLOT_H - height(13.0, 20.0);
        assert_eq!(pixel(&img, mid, top_answered), ANSWERED);
        assert_eq!(pixel(&img, mid, top_answered - 2), OFFERED);
        assert_eq!(
            pixel(&img, mid, TOP + PLOT_H - height(14.0, 20.0) - 2),
            WHITE
        );
        // an empty slot has no bar
        let (x21, _) = bar_x(48, 21);
        assert_eq!(pixel(&img, x21 + 2, TOP + PLOT_H - 3), WHITE);
    }

    #[test]
    fn occupancy_has_a_bar_per_operator() {
        let d = sample::digest();
        let occ = &charts(&d)[2];
        let img = decode(&occ.png);
        // 18 % and 75 % of the plot width
        let row = |i: u32| TOP + 22 * i + 11;
        assert_eq!(pixel(&img, LEFT + 5, row(0)), OCCUPANCY);
        assert_eq!(pixel(&img, LEFT + 1 + 672 * 17 / 100, row(0)), OCCUPANCY);
        assert_ne!(pixel(&img, LEFT + 1 + 672 * 30 / 100, row(0)), OCCUPANCY);
        assert_eq!(pixel(&img, LEFT + 1 + 672 * 74 / 100, row(1)), OCCUPANCY);
    }

    #[test]
    fn a_week_has_a_bar_per_day_labelled_by_date() {
        let mut d = sample::digest();
        d.period = super::super::Period::Weekly;
        d.first_day = chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let Section::Available { data: kpi } = &mut d.kpi else {
            unreachable!()
        };
        kpi.interval_minutes = 1440;
        kpi.intervals = vec![super::super::IntervalRow {
            // Wednesday 2 December, local midnight
            start: sample::t("2026-12-01T21:00:00Z"),
            totals: kpi.queues[0].clone(),
        }];
        let kpi = d.kpi.available().unwrap();
        let s = slots(&d, kpi);
        assert_eq!(s.len(), 7);
        assert_eq!(s[2].totals.offered, 40);
        assert_eq!(s[3].totals.offered, 0);
        let labels = slot_labels(&d, &s);
        assert_eq!(labels[0].as_deref(), Some("30.11"));
        assert_eq!(labels[6].as_deref(), Some("06.12"));
        let calls = &charts(&d)[0];
        assert_eq!(calls.scale_max, 40);
    }

    #[test]
    fn no_kpis_no_charts() {
        let mut d = sample::digest();
        d.kpi = Section::NotAvailable { reason: "x".into() };
        assert!(charts(&d).is_empty());
    }

    #[test]
    fn steps_are_round() {
        assert_eq!(nice_step(0.0), 1);
        assert_eq!(nice_step(3.5), 5);
        assert_eq!(nice_step(11.0), 20);
        assert_eq!(nice_step(50.0), 50);
    }
}
