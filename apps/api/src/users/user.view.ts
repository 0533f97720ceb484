import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ROLES, type Role } from '@gridflow/common';
import type { UserEntity } from '@gridflow/persistence';

/** The public shape of a user. The password hash is never part of it. */
export class UserView {
  @ApiProperty() id: string;
  @ApiProperty() username: string;
  @ApiProperty() displayName: string;
  @ApiProperty() orgUnitId: string;
  @ApiProperty({ enum: ROLES, isArray: true }) roles: Role[];
  @ApiProperty() disabled: boolean;
  @ApiPropertyOptional({ nullable: true, description: 'Mobile number for SMS notices; administrators only' })
  phone?: string | null;

  /** `withPhone`: the caller is an administrator (nobody else sees phone numbers). */
  static of(u: UserEntity, withPhone = false): UserView {
    return Object.assign(new UserView(), {
      ...(withPhone ? { phone: u.phone ?? null } : {}),
      id: u.id,
      username: u.username,
      displayName: u.displayName,
      orgUnitId: u.orgUnitId,
      roles: u.roles as Role[],
      disabled: u.disabled,
    });
  }
}
