import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsIn,
  IsNotEmpty,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  MaxLength,
  MinLength,
} from 'class-validator';
import { Optional } from '../../common/optional.js';
import { ROLES, type Role } from '@gridflow/common';
import { PageQuery } from '../../common/pagination.js';

export class ListUsersQuery extends PageQuery {
  @ApiPropertyOptional()
  @IsOptional()
  @IsUUID()
  orgUnitId?: string;
}

export class CreateUserDto {
  @ApiProperty({ example: 'xh-jd1-sq1-staff2' })
  @IsString()
  @Matches(/^[a-z0-9][a-z0-9._-]{1,63}$/, {
    message: 'username must be 2–64 lowercase letters, digits, dots, dashes or underscores',
  })
  username: string;

  @ApiProperty({ example: '王芳' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(128)
  displayName: string;

  @ApiProperty()
  @IsUUID()
  orgUnitId: string;

  @ApiProperty({ enum: ROLES, isArray: true })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(ROLES.length)
  @ArrayUnique()
  @IsIn(ROLES, { each: true })
  roles: Role[];

  @ApiProperty({ minLength: 10 })
  @IsString()
  @MinLength(10)
  @MaxLength(256)
  password: string;

  @ApiPropertyOptional({
    example: '13800138000',
    nullable: true,
    description: 'Mobile number for SMS notices (digits, optional leading +)',
  })
  @IsOptional()
  @Matches(/^\+?[0-9]{5,20}$/, { message: 'phone must be 5–20 digits with an optional leading +' })
  phone?: string | null;
}

export class UpdateUserDto {
  @ApiPropertyOptional()
  @Optional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(128)
  displayName?: string;

  @ApiPropertyOptional({ enum: ROLES, isArray: true })
  @Optional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(ROLES.length)
  @ArrayUnique()
  @IsIn(ROLES, { each: true })
  roles?: Role[];

  @ApiPropertyOptional({ description: 'A disabled user is refused at once, and its refresh tokens are revoked' })
  @Optional()
  @IsBoolean()
  disabled?: boolean;

  @ApiPropertyOptional({ minLength: 10 })
  @Optional()
  @IsString()
  @MinLength(10)
  @MaxLength(256)
  password?: string;

  @ApiPropertyOptional({
    example: '13800138000',
    nullable: true,
    description: 'Mobile number for SMS notices (digits, optional leading +)',
  })
  @IsOptional() // null clears it
  @Matches(/^\+?[0-9]{5,20}$/, { message: 'phone must be 5–20 digits with an optional leading +' })
  phone?: string | null;
}
