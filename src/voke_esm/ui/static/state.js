// The page's shared state: who is signed in, the org on show and what each card last loaded.
// Every module reads and writes this one object; it imports nothing.

export const state = {
  token: null, // the session's bearer token (session.js keeps it in sessionStorage)
  me: null,
  orgs: [],
  orgId: null,
  status: null,
  plants: [],
  loadSeq: 0,
  telemetry: false,
  clock: false, // POST clock/advance exists on this service
  clockRead: false, // GET clock exists
  clockSet: false, // PUT clock exists (restart the simulation at an instant, frozen or not)
  timeseries: false, // GET plants/{id}/timeseries exists: the plant's day is shown (§12)
  conditions: false, // PUT plants/{id}/conditions exists
  dayPlantId: null, // the plant whose day the day card shows
  journalPaused: false,
  journalLoading: false,
  faults: null, // the org's fault setup as last loaded or saved
  faultsDirty: false, // the editor holds changes not saved yet: refreshing would lose them
  rules: [], // the fault editor's rows, as the inputs hold them (strings)
  editing: null, // the plant being edited as the API last gave it, null when creating one
  editingEtag: null, // its ETag then: every PATCH sends it as If-Match (CONTRACT §4)
  editingForm: null, // the editor's fields as they were filled in: a PATCH sends what differs
  editingExternalId: null, // a new plant's external id as suggested: changed, it is unsaved input
  lastConfigUpdate: null, // {orgId, key} of the newest applied config update the journal showed
  blocks: [], // the time-config editor's rows, as the inputs hold them (strings)
};

export function currentOrg() {
  return state.orgs.find((org) => org.id === state.orgId) || null;
}
