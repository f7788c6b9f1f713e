/** JSON values as events carry them in `data` and as filters carry them in `values`. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** An event as the store keeps it: validated, time in ms, location NaN when absent. */
export interface StoredEvent {
  id: string;
  type: string;
  time: number;
  data: JsonObject;
  lat: number;
  lon: number;
}
