// CameraX facade over the generated bindings (bindings/kotlin): feeds ImageAnalysis frames to a Verification and
// shows its events on the main thread. A sketch for integrators, not compiled here (no Android SDK in this
// repository's CI); docs/mobile-sdk.md walks through it.
package dev.idv.mobile.camera

import android.graphics.Rect as AndroidRect
import android.os.Handler
import android.os.Looper
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.ImageProxy
import dev.idv.mobile.CameraFrame
import dev.idv.mobile.FaceObservation
import dev.idv.mobile.Guidance
import dev.idv.mobile.PixelFormat
import dev.idv.mobile.Rect
import dev.idv.mobile.Verification
import dev.idv.mobile.VerificationEvent
import dev.idv.mobile.VerificationListener

/**
 * Use with `ImageAnalysis.Builder().setBackpressureStrategy(STRATEGY_KEEP_ONLY_LATEST)` and
 * `setOutputImageFormat(OUTPUT_IMAGE_FORMAT_YUV_420_888)`. `faces` is the app's ML Kit face detector result for
 * the same frame (or null when the app runs none: set `platformFaceDetection = false` in the options then).
 * `pushFrame` copies the frame and returns at once; the SDK's thread does the rest.
 */
class IdvAnalyzer(
    private val verification: Verification,
    private val faces: ((ImageProxy) -> FaceObservation?)? = null,
) : ImageAnalysis.Analyzer {
    override fun analyze(image: ImageProxy) {
        try {
            val face = faces?.invoke(image)
            verification.pushFrame(
                CameraFrame(
                    bytes = image.toNv21(),
                    width = image.width.toUInt(),
                    height = image.height.toUInt(),
                    format = PixelFormat.NV21,
                    rowStride = 0u,
                    // The sensor's timestamp (ns), not the time of this call: the liveness clock runs on it.
                    timestampMs = (image.imageInfo.timestamp / 1_000_000L).toULong(),
                    rotation = image.imageInfo.rotationDegrees.toUInt(),
                    face = face,
                ),
            )
        } finally {
            image.close()
        }
    }
}

/** YUV_420_888 planes (any row and pixel stride) repacked as packed NV21. */
fun ImageProxy.toNv21(): ByteArray {
    val w = width
    val h = height
    val out = ByteArray(w * h + 2 * ((w + 1) / 2) * ((h + 1) / 2))
    val y = planes[0]
    var o = 0
    for (row in 0 until h) {
        val b = y.buffer
        b.position(row * y.rowStride)
        b.get(out, o, w)
        o += w
    }
    val u = planes[1]
    val v = planes[2]
    for (row in 0 until (h + 1) / 2) {
        for (col in 0 until (w + 1) / 2) {
            out[o++] = v.buffer.get(row * v.rowStride + col * v.pixelStride)
            out[o++] = u.buffer.get(row * u.rowStride + col * u.pixelStride)
        }
    }
    return out
}

/** An ML Kit face (`com.google.mlkit.vision.face.Face`) in the upright frame's fractions. */
fun faceObservation(box: AndroidRect, yawDeg: Float, rollDeg: Float, uprightW: Int, uprightH: Int) =
    FaceObservation(
        bounds = Rect(
            left = box.left.toFloat() / uprightW,
            top = box.top.toFloat() / uprightH,
            width = box.width().toFloat() / uprightW,
            height = box.height().toFloat() / uprightH,
        ),
        yawDegrees = yawDeg,
        rollDegrees = rollDeg,
    )

/** Delivers the SDK's events (sent on its own thread) on the main thread, for the capture screen. */
class MainThreadListener(private val handle: (VerificationEvent) -> Unit) : VerificationListener {
    private val main = Handler(Looper.getMainLooper())
    override fun onEvent(event: VerificationEvent) {
        main.post { handle(event) }
    }
}

/** The capture screen's line for a piece of guidance (use string resources in an app). */
fun guidanceText(g: Guidance): String? = when (g) {
    Guidance.OK -> null
    Guidance.TOO_DARK -> "Find more light"
    Guidance.GLARE -> "Tilt the document to avoid reflections"
    Guidance.DOCUMENT_NOT_IN_FRAME -> "Fit the document inside the frame"
    Guidance.TOO_BLURRY -> "Hold still"
    Guidance.NO_FACE -> "Look at the screen"
    Guidance.FACE_TOO_FAR -> "Move closer"
    Guidance.FACE_TOO_CLOSE -> "Move back a little"
    Guidance.FACE_OFF_CENTRE -> "Centre your face"
    Guidance.FACE_NOT_FRONTAL -> "Face the camera"
}

/**
 * What a capture screen does with each event: prompts at their cues, the colour flash, guidance lines, the end.
 * `screen` is the app's own view layer.
 */
interface CaptureScreen {
    fun showHint(text: String?)
    fun showPrompt(action: String?, remainingMs: UInt)
    fun fill(colour: String)
    fun finished(resultCode: UInt, transactionId: String)
}

fun CaptureScreen.render(event: VerificationEvent) {
    when (event) {
        is VerificationEvent.StepStarted -> showHint(event.hint)
        is VerificationEvent.Guidance -> showHint(guidanceText(event.guidance))
        is VerificationEvent.LivenessAction -> showPrompt(event.action, event.remainingMs)
        is VerificationEvent.LivenessActionEnded -> showPrompt(null, 0u)
        is VerificationEvent.ShowColour -> fill(event.colour)
        is VerificationEvent.Retake -> showHint(event.reason)
        is VerificationEvent.Finished -> finished(event.result.resultCode, event.result.transactionId)
        else -> Unit
    }
}
