import { Module } from '@nestjs/common';
import { CalendarModule } from '../calendar/calendar.module.js';
import { TaskDomainModule } from '../tasks/task.module.js';
import { SupervisionService } from './supervision.service.js';
import { TimerFiringService } from './timer-firing.service.js';

/** Durable timers: firing, the escalation ladder and supervision entries, over the working-day calendar. */
@Module({
  imports: [TaskDomainModule, CalendarModule],
  providers: [TimerFiringService, SupervisionService],
  exports: [TimerFiringService, SupervisionService, CalendarModule],
})
export class TimersDomainModule {}
