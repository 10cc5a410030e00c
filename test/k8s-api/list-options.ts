// The API server's checks of list and watch query options (apimachinery's ValidateListOptions, with
// the WatchList feature on, as in Kubernetes ≥ 1.34), so a client that sends a combination a real
// API server refuses gets the same 422 here, instead of an answer it would never get in a cluster.
// Each problem reads "<field>: <type>: <detail>", as field.Error prints it.

export const NOT_OLDER_THAN = 'NotOlderThan';
export const EXACT = 'Exact';

export function listOptionProblems(query: Record<string, string>, watch: boolean): string[] {
  const problems: string[] = [];
  const forbidden = (field: string, why: string): void => {
    problems.push(`${field}: Forbidden: ${why}`);
  };
  const match = query.resourceVersionMatch ?? '';
  const sendInitialEvents = query.sendInitialEvents;
  if (watch) {
    if (sendInitialEvents !== undefined && match !== NOT_OLDER_THAN) {
      forbidden('resourceVersionMatch', `sendInitialEvents requires setting resourceVersionMatch to ${NOT_OLDER_THAN}`);
    }
    if (match !== '') {
      if (sendInitialEvents === undefined) forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided');
      if (match !== NOT_OLDER_THAN) problems.push(`resourceVersionMatch: Unsupported value: "${match}": supported values: "${NOT_OLDER_THAN}"`);
      if (query.continue) forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden when continue is provided');
    }
    return problems;
  }
  if (match !== '') {
    if (!query.resourceVersion) forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden unless resourceVersion is provided');
    if (query.continue) forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden when continue is provided');
    if (match !== EXACT && match !== NOT_OLDER_THAN) {
      problems.push(`resourceVersionMatch: Unsupported value: "${match}": supported values: "${EXACT}", "${NOT_OLDER_THAN}", ""`);
    }
    if (match === EXACT && query.resourceVersion === '0') forbidden('resourceVersionMatch', 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"');
  }
  if (sendInitialEvents !== undefined) forbidden('sendInitialEvents', 'sendInitialEvents is forbidden for list');
  return problems;
}
