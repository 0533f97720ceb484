import { Body, Controller, Get, HttpCode, Ip, Post } from '@nestjs/common';
import { ApiOkResponse, ApiTags, ApiTooManyRequestsResponse } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Auth, Authenticated, NotFoundError, type Principal, Public } from '@gridflow/common';
import { UserEntity } from '@gridflow/persistence';
import { UserView } from '../users/user.view.js';
import { LoginDto, RefreshDto, TokenPairView } from './dto/login.dto.js';
import { LoginUseCase } from './login.usecase.js';
import { TokenService } from './token.service.js';

@ApiTags('auth')
@Controller()
export class AuthController {
  constructor(
    private readonly login: LoginUseCase,
    private readonly tokens: TokenService,
    @InjectDataSource() private readonly ds: DataSource,
  ) {}

  @Public()
  @Post('auth/login')
  @HttpCode(200)
  @ApiOkResponse({ type: TokenPairView })
  @ApiTooManyRequestsResponse({ description: 'Too many failed attempts for this username from this address' })
  async doLogin(@Body() dto: LoginDto, @Ip() ip: string): Promise<TokenPairView> {
    const { user, ...tokens } = await this.login.execute({ username: dto.username, password: dto.password, clientIp: ip });
    return { ...tokens, user: UserView.of(user) };
  }

  @Public()
  @Post('auth/refresh')
  @HttpCode(200)
  @ApiOkResponse({ type: TokenPairView })
  async refresh(@Body() dto: RefreshDto): Promise<TokenPairView> {
    const { user, tokens } = await this.tokens.rotate(dto.refreshToken);
    return { ...tokens, user: UserView.of(user) };
  }

  @Authenticated()
  @Post('auth/logout')
  @HttpCode(204)
  async logout(@Body() dto: RefreshDto): Promise<void> {
    await this.tokens.revokeFamily(dto.refreshToken);
  }

  @Authenticated()
  @Get('me')
  @ApiOkResponse({ type: UserView })
  async me(@Auth() principal: Principal): Promise<UserView> {
    const user = await this.ds.getRepository(UserEntity).findOneBy({ id: principal.userId });
    if (!user) throw new NotFoundError('User');
    return UserView.of(user);
  }
}
