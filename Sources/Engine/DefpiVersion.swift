/// The version of this build of defpi.
public enum DefpiVersion {
    public static let current = "0.1.0"
}
