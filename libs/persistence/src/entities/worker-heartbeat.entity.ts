import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Written by each worker's heartbeat job: proves the queue wiring end to end and shows live workers. */
@Entity({ name: 'worker_heartbeats' })
export class WorkerHeartbeatEntity {
  @PrimaryColumn({ name: 'worker_id', type: 'varchar', length: 128 })
  workerId: string;

  @Column({ name: 'beat_at', type: 'datetime', precision: 3 })
  beatAt: Date;

  @Column({ type: 'int', unsigned: true, default: 0 })
  beats: number;
}
