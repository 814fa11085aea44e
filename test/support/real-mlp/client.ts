/**
 * A small client for MLP's own API, used to seed data and to read projects' access lists.
 * Every call names the identity it acts as (`User-Email`, which MLP trusts with authorization off).
 */

interface MlpLabel {
  key: string;
  value: string;
}

/** A project as MLP returns it (`readers` is null when none were given). */
export interface MlpProject {
  id: number;
  name: string;
  administrators: string[] | null;
  readers: string[] | null;
  team?: string;
  stream?: string;
  labels?: MlpLabel[];
  mlflow_tracking_url?: string;
  created_at: string;
  updated_at: string;
}

export interface MlpSecret {
  id: number;
  project_id: number;
  name: string;
  data: string;
  secret_storage_id: number;
  secret_storage?: { id: number; name: string; type: string; scope: string; config: unknown };
  created_at: string;
  updated_at: string;
}

export interface NewProject {
  name: string;
  administrators?: string[];
  readers?: string[];
  /** MLP's project form requires these; tests rarely care. */
  team?: string;
  stream?: string;
  labels?: MlpLabel[];
}

/** An MLP answer that was not 2xx: status and MLP's `{"error": ...}` message. */
export class MlpApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    what: string,
  ) {
    super(`MLP answered ${status} to ${what}: ${body.trim()}`);
  }
}

export class MlpClient {
  constructor(
    /** http://127.0.0.1:<port> (no /v1). */
    readonly url: string,
    /** The `User-Email` sent when a call does not name another identity. */
    readonly identity: string,
  ) {}

  createProject(p: NewProject, as = this.identity): Promise<MlpProject> {
    const body = { team: 'dap-e2e', stream: 'dap-e2e', ...p };
    return this.call('POST', '/v1/projects', as, body, `creating project "${p.name}"`);
  }

  getProject(id: number, as = this.identity): Promise<MlpProject> {
    return this.call('GET', `/v1/projects/${id}`, as, undefined, `reading project ${id}`);
  }

  /** Replaces the fields given in `changes` (MLP's PUT takes the whole project). */
  async updateProject(id: number, changes: Partial<Omit<NewProject, 'name'>>, as = this.identity): Promise<MlpProject> {
    const current = await this.getProject(id, as);
    return this.call('PUT', `/v1/projects/${id}`, as, { ...current, ...changes }, `updating project ${id}`);
  }

  /** MLP matches `name` as a prefix (SQL LIKE 'name%'), see contract.md §5. */
  listProjects(name?: string, as = this.identity): Promise<MlpProject[]> {
    const query = name === undefined ? '' : `?name=${encodeURIComponent(name)}`;
    return this.call(
      'GET',
      `/v1/projects${query}`,
      as,
      undefined,
      `listing projects${name === undefined ? '' : ` named "${name}*"`}`,
    );
  }

  createSecret(projectId: number, s: { name: string; data: string }, as = this.identity): Promise<MlpSecret> {
    // The message names the secret, never its value.
    return this.call(
      'POST',
      `/v1/projects/${projectId}/secrets`,
      as,
      s,
      `creating secret "${s.name}" in project ${projectId}`,
    );
  }

  listSecrets(projectId: number, as = this.identity): Promise<MlpSecret[]> {
    return this.call(
      'GET',
      `/v1/projects/${projectId}/secrets`,
      as,
      undefined,
      `listing the secrets of project ${projectId}`,
    );
  }

  private async call<T>(method: string, path: string, as: string, body: unknown, what: string): Promise<T> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: { 'User-Email': as, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (!res.ok) throw new MlpApiError(res.status, text, what);
    return JSON.parse(text) as T;
  }
}
