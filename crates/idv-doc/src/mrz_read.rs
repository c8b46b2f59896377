//! Turning recognised MRZ lines into a checked reading.
//!
//! The recogniser hands over, per decoded character, a probability vector over the 37 MRZ symbols only (the
//! CTC argmax is restricted to them, so homoglyphs outside the alphabet cannot appear). Repair then works in
//! probability space: each cell takes the most probable symbol its field type allows (a digit cell cannot
//! hold `O`), the line is brought to its ICAO width by adjusting filler runs, and a field whose check digit
//! fails is re-read from its runner-up symbols only when a runner-up was genuinely likely and both the
//! field's and the composite check digit then agree. A deliberately wrong check digit on a crisp image
//! therefore stays wrong: there is no likely alternative to swap in.

use serde::Serialize;

/// The MRZ alphabet in class order.
pub const ALPHABET: &[u8; 37] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<";
pub const FILLER: usize = 36;

pub fn class_of(c: char) -> Option<usize> {
    ALPHABET.iter().position(|&a| a as char == c)
}

/// One recognised line: characters with their probability vectors over [`ALPHABET`].
#[derive(Clone, Debug)]
pub struct LineRead {
    pub probs: Vec<[f32; 37]>,
}

impl LineRead {
    /// From plain text (e.g. another OCR engine): each character certain, its usual look-alikes slightly
    /// likely, so typed repair can still swap `O` for `0` in a digit cell. Characters outside the alphabet
    /// become fillers with low confidence.
    pub fn from_text(text: &str) -> Self {
        let probs = text
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| {
                let c = c.to_ascii_uppercase();
                let mut p = [0.0f32; 37];
                match class_of(c) {
                    Some(i) => {
                        p[i] = 1.0;
                        for &alt in lookalikes(c) {
                            if let Some(j) = class_of(alt) {
                                p[j] = 0.02;
                            }
                        }
                    }
                    None => p[FILLER] = 0.3,
                }
                p
            })
            .collect();
        LineRead { probs }
    }

    pub fn len(&self) -> usize {
        self.probs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.probs.is_empty()
    }
}

/// Characters commonly confused with `c` in OCR-B.
fn lookalikes(c: char) -> &'static [char] {
    match c {
        '0' => &['O', 'D', 'Q', 'U'],
        'O' | 'D' | 'Q' | 'U' => &['0'],
        '1' => &['I', 'L', 'T'],
        'I' | 'L' | 'T' => &['1'],
        '2' => &['Z'],
        'Z' => &['2'],
        '4' => &['A'],
        'A' => &['4'],
        '5' => &['S'],
        'S' => &['5'],
        '6' => &['G'],
        'G' => &['6'],
        '7' => &['T'],
        '8' => &['B'],
        'B' => &['8'],
        'K' => &['<'],
        '<' => &['K'],
        _ => &[],
    }
}

fn argmax(p: &[f32; 37], allow: impl Fn(usize) -> bool) -> usize {
    let mut best = FILLER;
    let mut bv = f32::MIN;
    for (i, &v) in p.iter().enumerate() {
        if allow(i) && v > bv {
            bv = v;
            best = i;
        }
    }
    best
}

/// The symbol a cell takes: the most probable one its type allows (a country cell: a letter or filler; see
/// [`country_as_printed`] for the exception).
fn choose(cell: Cell, p: &[f32; 37]) -> usize {
    if cell == Cell::Country {
        return argmax(p, |k| Cell::LetterOrFiller.allows(k));
    }
    argmax(p, |k| cell.allows(k))
}

/// A country field read as letters names no state, but every cell plainly shows a digit: the issuer printed a
/// number there (Romanian cards do), and a zone is read as printed. `O`/`0` slips in a real code (`UT0`, `P0L`)
/// keep their letters because the letters name a state.
fn country_as_printed(grid: &[Vec<[f32; 37]>], chosen: &mut [Vec<usize>], line: usize, start: usize) {
    let letters: String = chosen[line][start..start + 3].iter().map(|&k| ALPHABET[k] as char).collect();
    if mrz::country_name(letters.trim_end_matches('<')).is_some() {
        return;
    }
    let digits: Option<Vec<usize>> = (start..start + 3)
        .map(|c| {
            let p = &grid[line][c];
            let d = argmax(p, |k| ALPHABET[k].is_ascii_digit());
            (p[d] > 20.0 * p[chosen[line][c]]).then_some(d)
        })
        .collect();
    if let Some(d) = digits {
        chosen[line][start..start + 3].copy_from_slice(&d);
    }
}

/// How much likelier a filler is than a letter in a name cell before the picture is seen: most of a name field is
/// padding. At five or six pixels per character `<` and `C` come out near-tied, and the tie goes to the filler.
const NAME_FILLER_PRIOR: f32 = 2.5;

/// The name field has a structure no check digit protects but ICAO 9303 fixes: names are separated by one filler,
/// surname from given names by two, and after three fillers in a row only padding follows. Cells are re-chosen with
/// the filler prior, and everything after the first run of three fillers is padding.
fn names_as_structured(format: MrzFormat, grid: &[Vec<[f32; 37]>], chosen: &mut [Vec<usize>]) {
    let (line, start) = if format == MrzFormat::Td1 { (2, 0) } else { (0, 5) };
    let width = format.width();
    for col in start..width {
        let p = &grid[line][col];
        let letter = argmax(p, |k| ALPHABET[k].is_ascii_uppercase());
        chosen[line][col] = if p[FILLER] * NAME_FILLER_PRIOR >= p[letter] { FILLER } else { letter };
    }
    let mut run = 0;
    for cell in &mut chosen[line][start..width] {
        if run >= 3 {
            *cell = FILLER;
        } else if *cell == FILLER {
            run += 1;
        } else {
            run = 0;
        }
    }
}

/// What a cell may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cell {
    Digit,
    /// A check digit: a digit, or `<` where ICAO allows an empty optional field.
    DigitOrFiller,
    Letter,
    LetterOrFiller,
    /// A country code: letters or fillers, unless the zone plainly prints a digit (some states put a number
    /// where ICAO wants a nationality, and a zone is read as printed).
    Country,
    Any,
    Sex,
}

impl Cell {
    fn allows(self, class: usize) -> bool {
        let c = ALPHABET[class];
        match self {
            Cell::Digit => c.is_ascii_digit(),
            Cell::DigitOrFiller => c.is_ascii_digit() || c == b'<',
            Cell::Letter => c.is_ascii_uppercase(),
            Cell::LetterOrFiller => c.is_ascii_uppercase() || c == b'<',
            Cell::Country | Cell::Any => true,
            Cell::Sex => matches!(c, b'M' | b'F' | b'X' | b'<'),
        }
    }
}

/// The ICAO 9303 layouts of a machine-readable zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum MrzFormat {
    /// Passport data page: 2 lines of 44 (Part 4).
    #[serde(rename = "TD3")]
    Td3,
    /// ID-1 card: 3 lines of 30 (Part 5).
    #[serde(rename = "TD1")]
    Td1,
    /// ID-2 card: 2 lines of 36 (Part 6).
    #[serde(rename = "TD2")]
    Td2,
    /// Visa, format A: 2 lines of 44, no personal-number or composite digit (Part 7).
    #[serde(rename = "MRV-A")]
    MrvA,
    /// Visa, format B: 2 lines of 36, no personal-number or composite digit (Part 7).
    #[serde(rename = "MRV-B")]
    MrvB,
}

impl MrzFormat {
    pub const ALL: [MrzFormat; 5] = [MrzFormat::Td3, MrzFormat::Td1, MrzFormat::Td2, MrzFormat::MrvA, MrzFormat::MrvB];

    /// The ICAO name (`TD3`, `TD1`, `TD2`, `MRV-A`, `MRV-B`), as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            MrzFormat::Td3 => "TD3",
            MrzFormat::Td1 => "TD1",
            MrzFormat::Td2 => "TD2",
            MrzFormat::MrvA => "MRV-A",
            MrzFormat::MrvB => "MRV-B",
        }
    }

    pub fn lines(self) -> usize {
        match self {
            MrzFormat::Td1 => 3,
            _ => 2,
        }
    }

    pub fn width(self) -> usize {
        match self {
            MrzFormat::Td3 | MrzFormat::MrvA => 44,
            MrzFormat::Td2 | MrzFormat::MrvB => 36,
            MrzFormat::Td1 => 30,
        }
    }

    /// A visa's zone carries no composite check digit, so a repair has only its field's own digit to agree with.
    pub fn has_composite(self) -> bool {
        !matches!(self, MrzFormat::MrvA | MrzFormat::MrvB)
    }

    /// The document code's first letter as ICAO allows it for this layout.
    fn kind_allows(self, c: u8) -> bool {
        match self {
            MrzFormat::Td3 => c == b'P',
            MrzFormat::MrvA | MrzFormat::MrvB => c == b'V',
            MrzFormat::Td1 | MrzFormat::Td2 => matches!(c, b'I' | b'A' | b'C'),
        }
    }

    /// The `mrz` crate's name for the layout.
    pub fn of_crate(f: mrz::Format) -> Option<MrzFormat> {
        Some(match f {
            mrz::Format::Td3 => MrzFormat::Td3,
            mrz::Format::Td1 => MrzFormat::Td1,
            mrz::Format::Td2 => MrzFormat::Td2,
            mrz::Format::MrvA => MrzFormat::MrvA,
            mrz::Format::MrvB => MrzFormat::MrvB,
            _ => return None,
        })
    }

    fn cells(self, line: usize) -> Vec<Cell> {
        use Cell::*;
        let mut v = Vec::new();
        let mut push = |n: usize, c: Cell| v.extend(std::iter::repeat_n(c, n));
        match (self, line) {
            // The two-line layouts share their first line's shape (code, issuer, name) and the start of the
            // second (number, digit, nationality, birth, digit, sex, expiry, digit); they differ after it.
            (MrzFormat::Td3 | MrzFormat::MrvA | MrzFormat::Td2 | MrzFormat::MrvB, 0) => {
                push(1, Letter);
                push(1, LetterOrFiller);
                push(3, Country);
                push(self.width() - 5, LetterOrFiller);
            }
            (MrzFormat::Td3 | MrzFormat::MrvA | MrzFormat::Td2 | MrzFormat::MrvB, _) => {
                push(9, Any);
                push(1, Digit);
                push(3, Country);
                push(6, Digit);
                push(1, Digit);
                push(1, Sex);
                push(6, Digit);
                push(1, Digit);
                match self {
                    MrzFormat::Td3 => {
                        push(14, Any);
                        push(1, DigitOrFiller);
                        push(1, Digit);
                    }
                    MrzFormat::Td2 => {
                        push(7, Any);
                        push(1, Digit);
                    }
                    _ => push(self.width() - 28, Any),
                }
            }
            (MrzFormat::Td1, 0) => {
                push(1, Letter);
                push(1, LetterOrFiller);
                push(3, Country);
                push(9, Any);
                push(1, DigitOrFiller);
                push(15, Any);
            }
            (MrzFormat::Td1, 1) => {
                push(6, Digit);
                push(1, Digit);
                push(1, Sex);
                push(6, Digit);
                push(1, Digit);
                push(3, Country);
                push(11, Any);
                push(1, Digit);
            }
            (MrzFormat::Td1, _) => push(30, LetterOrFiller),
        }
        v
    }
}

/// A check-digit-covered field: (line, start, len) of the data and (line, col) of its digit.
struct Covered {
    data: (usize, usize, usize),
    digit: (usize, usize),
}

fn covered(format: MrzFormat) -> Vec<Covered> {
    let two_line = |extra: Option<Covered>| {
        let mut v = vec![
            Covered { data: (1, 0, 9), digit: (1, 9) },
            Covered { data: (1, 13, 6), digit: (1, 19) },
            Covered { data: (1, 21, 6), digit: (1, 27) },
        ];
        v.extend(extra);
        v
    };
    match format {
        MrzFormat::Td3 => two_line(Some(Covered { data: (1, 28, 14), digit: (1, 42) })),
        MrzFormat::Td2 | MrzFormat::MrvA | MrzFormat::MrvB => two_line(None),
        MrzFormat::Td1 => vec![
            Covered { data: (0, 5, 9), digit: (0, 14) },
            Covered { data: (1, 0, 6), digit: (1, 6) },
            Covered { data: (1, 8, 6), digit: (1, 14) },
        ],
    }
}

/// A checked MRZ reading.
#[derive(Clone, Debug)]
pub struct MrzReading {
    pub format: MrzFormat,
    pub lines: Vec<String>,
    pub data: mrz::MrzData,
    /// Cells changed by check-digit-guided repair: (line, column, from, to).
    pub repairs: Vec<(usize, usize, char, char)>,
    /// Lowest per-cell probability of the chosen symbols (after repair).
    pub min_confidence: f32,
    /// The same per line.
    pub line_confidence: Vec<f32>,
}

impl MrzReading {
    pub fn valid(&self) -> bool {
        self.data.valid()
    }
}

/// Bring a line to `width` cells by growing or shrinking its filler runs (CTC most often drops or doubles
/// a `<` inside a long run of them). Longest runs change first; a line off by more than 4 is refused.
fn fit_width(mut probs: Vec<[f32; 37]>, width: usize) -> Option<Vec<[f32; 37]>> {
    let is_filler = |p: &[f32; 37]| argmax(p, |_| true) == FILLER;
    let diff = probs.len() as i64 - width as i64;
    if diff.abs() > 4 {
        return None;
    }
    let mut filler = [0.0f32; 37];
    filler[FILLER] = 1.0;
    for _ in 0..diff.unsigned_abs() {
        // Longest run of fillers; ties go to the rightmost (trailing padding is the usual culprit).
        let (mut best_start, mut best_len, mut i) = (None, 0usize, 0usize);
        while i < probs.len() {
            if is_filler(&probs[i]) {
                let s = i;
                while i < probs.len() && is_filler(&probs[i]) {
                    i += 1;
                }
                if i - s >= best_len {
                    best_len = i - s;
                    best_start = Some(s);
                }
            } else {
                i += 1;
            }
        }
        let start = best_start?;
        if diff > 0 {
            probs.remove(start);
        } else {
            probs.insert(start + best_len, filler);
        }
    }
    Some(probs)
}

/// Decode MRZ lines (top to bottom) into a checked reading. `lines` must hold exactly the format's number of
/// lines. Returns `None` when the lines cannot be brought to the ICAO shape or the `mrz` crate refuses them.
pub fn decode(format: MrzFormat, lines: &[LineRead]) -> Option<MrzReading> {
    if lines.len() != format.lines() {
        return None;
    }
    let width = format.width();
    let mut grid: Vec<Vec<[f32; 37]>> = Vec::new();
    for l in lines {
        grid.push(fit_width(l.probs.clone(), width)?);
    }
    // Typed argmax per cell.
    let mut chosen: Vec<Vec<usize>> = Vec::new();
    for (li, row) in grid.iter().enumerate() {
        let cells = format.cells(li);
        chosen.push(row.iter().zip(&cells).map(|(p, &c)| choose(c, p)).collect());
    }
    // Line 1's document code must lead: the kind letter the layout allows (P, V; I, A or C for cards).
    chosen[0][0] = argmax(&grid[0][0], |k| format.kind_allows(ALPHABET[k]));
    names_as_structured(format, &grid, &mut chosen);
    let countries: &[(usize, usize)] = if format == MrzFormat::Td1 { &[(0, 2), (1, 15)] } else { &[(0, 2), (1, 10)] };
    for &(line, start) in countries {
        country_as_printed(&grid, &mut chosen, line, start);
    }
    let mut repairs = Vec::new();
    repair_check_digits(format, &grid, &mut chosen, &mut repairs);

    let text: Vec<String> = chosen.iter().map(|r| r.iter().map(|&k| ALPHABET[k] as char).collect()).collect();
    let data = match format {
        MrzFormat::Td3 => mrz::parse_td3(&text[0], &text[1]).ok()?,
        MrzFormat::Td1 => mrz::parse_td1(&text[0], &text[1], &text[2]).ok()?,
        MrzFormat::Td2 => mrz::parse_td2(&text[0], &text[1]).ok()?,
        MrzFormat::MrvA => mrz::parse_mrv_a(&text[0], &text[1]).ok()?,
        MrzFormat::MrvB => mrz::parse_mrv_b(&text[0], &text[1]).ok()?,
    };
    let line_confidence: Vec<f32> = grid
        .iter()
        .zip(&chosen)
        .map(|(row, ch)| {
            row.iter().zip(ch).map(|(p, &k)| p[k] / p.iter().sum::<f32>().max(1e-6)).fold(1.0f32, f32::min)
        })
        .collect();
    let min_confidence = line_confidence.iter().copied().fold(1.0f32, f32::min);
    Some(MrzReading { format, lines: text, data, repairs, min_confidence, line_confidence })
}

fn field_ok(chosen: &[Vec<usize>], c: &Covered) -> bool {
    let (l, s, n) = c.data;
    let field: String = chosen[l][s..s + n].iter().map(|&k| ALPHABET[k] as char).collect();
    let digit = ALPHABET[chosen[c.digit.0][c.digit.1]] as char;
    if digit == '<' {
        // An empty optional field may carry a filler check digit.
        return field.chars().all(|ch| ch == '<');
    }
    mrz::verify(&field, digit)
}

fn composite_ok(format: MrzFormat, chosen: &[Vec<usize>]) -> bool {
    let s = |l: usize, a: usize, b: usize| -> String { chosen[l][a..b].iter().map(|&k| ALPHABET[k] as char).collect() };
    let (data, digit) = match format {
        MrzFormat::Td3 => (format!("{}{}{}", s(1, 0, 10), s(1, 13, 20), s(1, 21, 43)), chosen[1][43]),
        MrzFormat::Td1 => (format!("{}{}{}", s(0, 5, 30), s(1, 0, 7), s(1, 8, 15) + &s(1, 18, 29)), chosen[1][29]),
        MrzFormat::Td2 => (format!("{}{}{}", s(1, 0, 10), s(1, 13, 20), s(1, 21, 35)), chosen[1][35]),
        // No composite digit to disagree.
        MrzFormat::MrvA | MrzFormat::MrvB => return true,
    };
    mrz::verify(&data, ALPHABET[digit] as char)
}

/// A runner-up symbol must carry at least this share of its cell's probability to be tried.
const RUNNER_UP_MIN: f32 = 0.05;
/// Without a composite digit a repair has one digit's say only (one chance in ten of agreeing by luck), so the
/// runner-up must be a close second, and two-cell repairs are not tried.
const RUNNER_UP_MIN_NO_COMPOSITE: f32 = 0.3;

fn repair_check_digits(
    format: MrzFormat,
    grid: &[Vec<[f32; 37]>],
    chosen: &mut [Vec<usize>],
    repairs: &mut Vec<(usize, usize, char, char)>,
) {
    for c in covered(format) {
        if field_ok(chosen, &c) {
            continue;
        }
        let (l, s, n) = c.data;
        // Candidate single-cell swaps over the field and its digit, most probable first.
        let mut positions: Vec<(usize, usize)> = (s..s + n).map(|col| (l, col)).collect();
        positions.push(c.digit);
        let mut swaps: Vec<(f32, usize, usize, usize)> = Vec::new();
        for &(li, col) in &positions {
            let p = &grid[li][col];
            let total = p.iter().sum::<f32>().max(1e-6);
            let cell = if (li, col) == c.digit { Cell::DigitOrFiller } else { format.cells(li)[col] };
            for (k, &v) in p.iter().enumerate() {
                let min = if format.has_composite() { RUNNER_UP_MIN } else { RUNNER_UP_MIN_NO_COMPOSITE };
                if k != chosen[li][col] && cell.allows(k) && v / total >= min {
                    swaps.push((v / total, li, col, k));
                }
            }
        }
        swaps.sort_by(|a, b| b.0.total_cmp(&a.0));
        let before_composite = composite_ok(format, chosen);
        let mut fixed = false;
        for &(_, li, col, k) in &swaps {
            let old = chosen[li][col];
            chosen[li][col] = k;
            // Accept only when the composite agrees too (or it was already failing for another field, in
            // which case this field's own digit is the evidence and later fields must still clear it).
            if field_ok(chosen, &c) && (composite_ok(format, chosen) || !before_composite) {
                repairs.push((li, col, ALPHABET[old] as char, ALPHABET[k] as char));
                fixed = true;
                break;
            }
            chosen[li][col] = old;
        }
        if !fixed && format.has_composite() {
            // Two cells at once, limited to the five likeliest swaps to keep the search tiny.
            'pairs: for i in 0..swaps.len().min(5) {
                for j in (i + 1)..swaps.len().min(5) {
                    let (a, b) = (swaps[i], swaps[j]);
                    if (a.1, a.2) == (b.1, b.2) {
                        continue;
                    }
                    let (oa, ob) = (chosen[a.1][a.2], chosen[b.1][b.2]);
                    chosen[a.1][a.2] = a.3;
                    chosen[b.1][b.2] = b.3;
                    if field_ok(chosen, &c) && composite_ok(format, chosen) {
                        repairs.push((a.1, a.2, ALPHABET[oa] as char, ALPHABET[a.3] as char));
                        repairs.push((b.1, b.2, ALPHABET[ob] as char, ALPHABET[b.3] as char));
                        break 'pairs;
                    }
                    chosen[a.1][a.2] = oa;
                    chosen[b.1][b.2] = ob;
                }
            }
        }
    }
}

/// The layouts a run of lines `width` wide may be, told apart by the document code's first letter: a zone of 44
/// is a passport's (`P`) or a visa's (`V`), one of 36 a card's (`I`, `A`, `C`) or a visa's.
fn formats_for(first: &LineRead, width: usize) -> Vec<MrzFormat> {
    let p = |c: char| first.probs.first().and_then(|p| class_of(c).map(|k| p[k])).unwrap_or(0.0);
    let visa = p('V');
    match width {
        44 => vec![if visa > p('P') { MrzFormat::MrvA } else { MrzFormat::Td3 }],
        36 => vec![if visa > p('I').max(p('A')).max(p('C')) { MrzFormat::MrvB } else { MrzFormat::Td2 }],
        30 => vec![MrzFormat::Td1],
        _ => Vec::new(),
    }
}

/// Pick the MRZ lines out of a page's recognised lines (top to bottom, each with its vertical centre) and
/// decode them, whatever the layout: runs of lines 44, 36 or 30 wide, the layout of a width chosen by the
/// document code's letter, the most trustworthy reading kept (valid first, then the most confident).
pub fn find(lines: &[(f32, LineRead)]) -> Option<MrzReading> {
    let mut best: Option<MrzReading> = None;
    for width in [44usize, 36, 30] {
        let w = width as i64;
        let cand: Vec<&LineRead> = lines.iter().map(|(_, l)| l).filter(|l| (l.len() as i64 - w).abs() <= 4).collect();
        let n = if width == 30 { 3 } else { 2 };
        if cand.len() < n {
            continue;
        }
        // Prefer the lowest run (the MRZ is at the bottom).
        'runs: for start in (0..=cand.len() - n).rev() {
            let group: Vec<LineRead> = cand[start..start + n].iter().map(|l| (*l).clone()).collect();
            for format in formats_for(&group[0], width) {
                if let Some(r) = decode(format, &group) {
                    let better = match &best {
                        None => true,
                        Some(b) => (r.valid(), r.min_confidence) > (b.valid(), b.min_confidence),
                    };
                    if better {
                        best = Some(r);
                    }
                    break 'runs;
                }
            }
        }
    }
    best
}
