/** The largest circle's diameter in pixels, and the smallest any bin gets (so that one event stays visible). */
const LARGEST = 30;
const SMALLEST = 3;

/**
 * A heat circle's diameter in pixels: its area is proportional to its bin's count (the diameter to the
 * square root), so a bin of 1 beside a largest of 200 looks 1/200 as busy — above the smallest size.
 */
export function circleSize(count: number, max: number): number {
  return Math.max(SMALLEST, LARGEST * Math.sqrt(count / Math.max(max, 1)));
}
