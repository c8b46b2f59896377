// AVFoundation facade over the generated bindings (bindings/swift): feeds AVCaptureVideoDataOutput frames to a
// Verification and shows its events on the main queue. A sketch for integrators, not compiled here (no Xcode in
// this repository's CI); docs/mobile-sdk.md walks through it.
import AVFoundation
import Vision
import IdvMobile

/// Set as the sample buffer delegate of an `AVCaptureVideoDataOutput` whose `videoSettings` ask for
/// `kCVPixelFormatType_32BGRA`, with `alwaysDiscardsLateVideoFrames = true`. `pushFrame` copies the frame and
/// returns at once; the SDK's thread does the rest.
final class IdvCameraFeed: NSObject, AVCaptureVideoDataOutputSampleBufferDelegate {
    private let verification: Verification
    /// Whether to run Vision's face detector on each frame (then `platformFaceDetection = true` in the options).
    private let detectFaces: Bool
    /// Degrees clockwise that turn the buffer upright for the current interface orientation (90 for a portrait
    /// UI on the back camera's landscape sensor).
    var rotation: UInt32 = 90

    init(verification: Verification, detectFaces: Bool) {
        self.verification = verification
        self.detectFaces = detectFaces
    }

    func captureOutput(_ output: AVCaptureOutput, didOutput sampleBuffer: CMSampleBuffer,
                       from connection: AVCaptureConnection) {
        guard let pixels = CMSampleBufferGetImageBuffer(sampleBuffer) else { return }
        CVPixelBufferLockBaseAddress(pixels, .readOnly)
        defer { CVPixelBufferUnlockBaseAddress(pixels, .readOnly) }
        guard let base = CVPixelBufferGetBaseAddress(pixels) else { return }
        let stride = CVPixelBufferGetBytesPerRow(pixels)
        let height = CVPixelBufferGetHeight(pixels)
        // The capture time on the camera's clock, not the time of this call: the liveness clock runs on it.
        let time = CMSampleBufferGetPresentationTimeStamp(sampleBuffer)
        let frame = CameraFrame(
            bytes: Data(bytes: base, count: stride * height),
            width: UInt32(CVPixelBufferGetWidth(pixels)),
            height: UInt32(height),
            format: .bgra,
            rowStride: UInt32(stride),
            timestampMs: UInt64(max(0, CMTimeGetSeconds(time) * 1000)),
            rotation: rotation,
            face: detectFaces ? face(in: pixels) : nil)
        _ = verification.pushFrame(frame: frame)
    }

    /// Vision's face rectangle (normalised, origin bottom left) as the SDK's upright, top-left fractions.
    private func face(in pixels: CVPixelBuffer) -> FaceObservation? {
        let request = VNDetectFaceRectanglesRequest()
        let orientation: CGImagePropertyOrientation = rotation == 90 ? .right : rotation == 270 ? .left
            : rotation == 180 ? .down : .up
        try? VNImageRequestHandler(cvPixelBuffer: pixels, orientation: orientation).perform([request])
        guard let f = request.results?.first else { return nil }
        let b = f.boundingBox
        return FaceObservation(
            bounds: Rect(left: Float(b.minX), top: Float(1 - b.maxY), width: Float(b.width), height: Float(b.height)),
            yawDegrees: f.yaw.map { Float(truncating: $0) * 180 / .pi },
            rollDegrees: f.roll.map { Float(truncating: $0) * 180 / .pi })
    }
}

/// Delivers the SDK's events (sent on its own thread) on the main queue, for the capture screen.
final class MainQueueListener: VerificationListener, @unchecked Sendable {
    private let handle: (VerificationEvent) -> Void
    init(_ handle: @escaping (VerificationEvent) -> Void) { self.handle = handle }
    func onEvent(event: VerificationEvent) {
        DispatchQueue.main.async { self.handle(event) }
    }
}

/// The capture screen's line for a piece of guidance (use localised strings in an app).
func guidanceText(_ g: Guidance) -> String? {
    switch g {
    case .ok: return nil
    case .tooDark: return "Find more light"
    case .glare: return "Tilt the document to avoid reflections"
    case .documentNotInFrame: return "Fit the document inside the frame"
    case .tooBlurry: return "Hold still"
    case .noFace: return "Look at the screen"
    case .faceTooFar: return "Move closer"
    case .faceTooClose: return "Move back a little"
    case .faceOffCentre: return "Centre your face"
    case .faceNotFrontal: return "Face the camera"
    }
}

/// What a capture screen does with each event: prompts at their cues, the colour flash, guidance lines, the end.
protocol CaptureScreen: AnyObject {
    func showHint(_ text: String?)
    func showPrompt(_ action: String?, remainingMs: UInt32)
    func fill(_ colour: String)
    func finished(resultCode: UInt32, transactionId: String)
}

extension CaptureScreen {
    func render(_ event: VerificationEvent) {
        switch event {
        case let .stepStarted(_, _, hint, _, _): showHint(hint)
        case let .guidance(_, guidance): showHint(guidanceText(guidance))
        case let .livenessAction(_, action, remainingMs): showPrompt(action, remainingMs: remainingMs)
        case .livenessActionEnded: showPrompt(nil, remainingMs: 0)
        case let .showColour(colour): fill(colour)
        case let .retake(_, _, reason, _): showHint(reason)
        case let .finished(result): finished(resultCode: result.resultCode, transactionId: result.transactionId)
        default: break
        }
    }
}
