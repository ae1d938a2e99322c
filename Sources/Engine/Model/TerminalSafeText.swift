/// Text a process wrote, made safe to print on an operator's terminal: escape sequences (colours,
/// cursor moves, window titles, OSC 52 clipboard writes) and other control characters removed,
/// tabs kept. A process is a tenant's program, and its output must not drive the terminal that
/// shows it.
public enum TerminalSafeText {
    /// `text` without its control sequences and control characters.
    public static func of(_ text: String) -> String {
        var output = String.UnicodeScalarView()
        var scalars = text.unicodeScalars.makeIterator()
        while let scalar = scalars.next() {
            switch scalar.value {
            case 0x1B: skipEscape(&scalars)
            case 0x9B: skipControlSequence(&scalars)  // C1 CSI
            case 0x9D, 0x90, 0x98, 0x9E, 0x9F: skipString(&scalars)  // C1 OSC, DCS, SOS, PM, APC
            case 0x09: output.append(scalar)
            case 0x00...0x1F, 0x7F, 0x80...0x9F: continue
            default: output.append(scalar)
            }
        }
        return String(output)
    }

    /// After ESC: a CSI (`[`), a string (`]`, `P`, `X`, `^`, `_`), or one more character.
    private static func skipEscape(_ scalars: inout String.UnicodeScalarView.Iterator) {
        guard let next = scalars.next() else { return }
        switch next {
        case "[": skipControlSequence(&scalars)
        case "]", "P", "X", "^", "_": skipString(&scalars)
        default: return
        }
    }

    /// Parameters and intermediates up to a final byte (0x40-0x7E).
    private static func skipControlSequence(_ scalars: inout String.UnicodeScalarView.Iterator) {
        while let scalar = scalars.next(), !(0x40...0x7E).contains(scalar.value) {}
    }

    /// Up to BEL, ST (ESC \) or C1 ST.
    private static func skipString(_ scalars: inout String.UnicodeScalarView.Iterator) {
        while let scalar = scalars.next() {
            if scalar.value == 0x07 || scalar.value == 0x9C { return }
            if scalar.value == 0x1B {
                _ = scalars.next()
                return
            }
        }
    }
}
