import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestApp, login, type Session, type TestApp } from '../helpers/app.js';

const inDays = (d: number) => new Date(Date.now() + d * 86400_000).toISOString();

/**
 * Approval steps run through the task shell on the real database: each approver acts through
 * POST /tasks/:id/actions/<operation>, the approval state is stored on the task, and the step's outcome moves it.
 */
describe('approval steps through the shell (e2e)', () => {
  let t: TestApp;
  let admin: Session;
  let dept: Session; // 城管局 leader: initiator
  let district: Session; // 区领导
  let deptStaff: Session;
  // approvers: the district leader, the administrator and the department's staff — all can see the task

  /** Publishes a one-step approval workflow and a category on it; returns the category code. */
  async function approvalFlow(key: string, approval: Record<string, unknown>): Promise<string> {
    const definition = {
      key,
      name: `审批测试 ${key}`,
      states: [
        { id: 'draft', initial: true },
        { id: 'review', approval: { ...approval, onApproved: 'approved', onRejected: 'rejected' } },
        { id: 'approved', final: true },
        { id: 'rejected', final: true },
      ],
      actions: [{ id: 'send', from: ['draft'], to: 'review', actors: [{ role: 'leader', relation: 'assignee' }] }],
    };
    const created = await t.http().post('/api/v1/workflows').set(admin.auth).send({ definition });
    expect(created.body.validation).toEqual({ valid: true, errors: [] });
    expect((await t.http().post(`/api/v1/workflows/${key}/publish`).set(admin.auth)).status).toBe(201);
    const code = key.toUpperCase().replace(/-/g, '_');
    const cat = await t
      .http()
      .post('/api/v1/catalog/categories')
      .set(admin.auth)
      .send({
        code,
        name: `审批测试事项 ${key}`,
        ownerOrgUnitId: dept.user.orgUnitId,
        requiredPowerCodes: [],
        onCommunityAccessList: true,
        workflowKey: key,
      });
    expect(cat.status).toBe(201);
    return code;
  }

  async function sentTask(category: string): Promise<string> {
    const task = await t
      .http()
      .post('/api/v1/tasks')
      .set(dept.auth)
      .send({ title: '经费使用审批', categoryCode: category, dueAt: inDays(5) });
    expect(task.body.state).toBe('draft');
    const sent = await t.http().post(`/api/v1/tasks/${task.body.id}/actions/send`).set(dept.auth).send({});
    expect(sent.status).toBe(200);
    expect(sent.body.state).toBe('review');
    return task.body.id;
  }

  const act = (s: Session, id: string, op: string, body: object = {}) =>
    t.http().post(`/api/v1/tasks/${id}/actions/${op}`).set(s.auth).send(body);

  beforeAll(async () => {
    t = await createTestApp();
    [admin, dept, district, deptStaff] = await Promise.all([
      login(t, 'admin'),
      login(t, 'xh-cgj-leader'),
      login(t, 'xh-leader'),
      login(t, 'xh-cgj-staff'),
    ]);
  });
  afterAll(async () => {
    await t.close();
  });

  const three = () => [{ userId: district.user.id }, { userId: admin.user.id }, { userId: deptStaff.user.id }];

  it('countersign (all) of three approvers needs all three', async () => {
    const id = await sentTask(await approvalFlow('countersign-three', { mode: 'all', approvers: three() }));
    expect((await act(district, id, 'approve', { comment: '同意' })).body.state).toBe('review');
    expect((await act(admin, id, 'approve')).body.state).toBe('review');
    // an approver cannot approve twice
    expect((await act(district, id, 'approve')).status).toBe(409);
    const last = await act(deptStaff, id, 'approve');
    expect(last.body.state).toBe('approved');
    const events = (await t.http().get(`/api/v1/tasks/${id}/events`).set(dept.auth)).body.items.map(
      (e: { action: string }) => e.action,
    );
    expect(events).toEqual(['create', 'send', 'approve', 'approve', 'approve']);
  });

  it('any-of needs one approval', async () => {
    const id = await sentTask(await approvalFlow('any-of-three', { mode: 'any', approvers: three() }));
    expect((await act(admin, id, 'approve')).body.state).toBe('approved');
  });

  it('ratio 2/3 passes at two approvals, and fails as soon as two reject', async () => {
    const code = await approvalFlow('ratio-two-thirds', { mode: 'ratio', ratio: 0.66, approvers: three() });
    const pass = await sentTask(code);
    expect((await act(district, pass, 'approve')).body.state).toBe('review');
    expect((await act(deptStaff, pass, 'approve')).body.state).toBe('approved');

    const fail = await sentTask(code);
    expect((await act(district, fail, 'reject', { comment: '依据不足' })).body.state).toBe('review');
    const second = await act(admin, fail, 'reject');
    expect(second.body.state).toBe('rejected');
  });

  it('the last actor may withdraw before the next one acts, not after', async () => {
    const id = await sentTask(await approvalFlow('sequential-three', { mode: 'sequential', approvers: three() }));
    // out of turn
    expect((await act(deptStaff, id, 'approve')).status).toBe(409);
    expect((await act(district, id, 'approve')).status).toBe(200);
    const withdrawn = await act(district, id, 'withdraw');
    expect(withdrawn.status).toBe(200);
    expect(withdrawn.body.approval.slots[0].status).toBe('pending');
    expect((await act(district, id, 'approve')).status).toBe(200);
    expect((await act(admin, id, 'approve')).status).toBe(200);
    const late = await act(district, id, 'withdraw');
    expect(late.status).toBe(409);
    expect(late.body.code).toBe('APPROVAL_WITHDRAW_NOT_ALLOWED');
  });

  it('return to the initiator sends it back to the draft; a non-approver cannot act', async () => {
    const id = await sentTask(await approvalFlow('returnable', { mode: 'all', approvers: three() }));
    // the initiator is not among the approvers: nothing is pending for them
    const notApprover = await act(dept, id, 'approve');
    expect(notApprover.status).toBe(409);
    expect(notApprover.body.code).toBe('APPROVAL_NOT_PENDING');
    const back = await act(district, id, 'returnTo', { target: 'initiator', comment: '请补充材料' });
    expect(back.status).toBe(200);
    expect(back.body.state).toBe('draft');
    expect(back.body.approval).toBeNull();
  });
});
