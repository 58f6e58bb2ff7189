// What the shop sells: flows from the functions' counters, stocks from the database (the scheduled collector).
// The overview shows some of these panels too; they are made here, once.
import { bars, colour, major, money, MONEY, perMinute, query, rate, shop, shopDashboard, singleStat, stacked, thresholds, timeSeries, units } from './panels.ts';

const logins = rate(shop('user_logins_total'));
// A locked attempt (too many failures on the account) failed as surely as a wrong password.
const failedLogins = rate(shop('user_logins_total', 'result!="success"'));
const loginFailureRatio = `sum(${failedLogins}) / sum(${logins})`;

export const revenueStat = () =>
  money(
    singleStat(
      { title: 'Revenue, not cancelled', unit: MONEY, description: 'Value of all orders not cancelled, from the database (collected every minute), by currency.' },
      query(major(`sum by (currency) (${shop('shop_revenue_total_amount')})`), '{{currency}}'),
    ),
  );

export const ordersByStatus = () =>
  stacked({ title: 'Orders in database by status', unit: units.Short, description: 'Orders in the database by current status, collected every minute.' }, query(`sum by (status) (${shop('shop_orders')})`, '{{status}}'));

export const ordersCreatedByStatus = () =>
  timeSeries({ title: 'Orders created by status', unit: units.CountsPerMinute, description: 'Orders created per minute, by status at creation.' }, query(perMinute(`sum by (status) (${rate(shop('orders_created_total'))})`), '{{status}}'));

export const revenueByCurrency = () =>
  money(
    timeSeries(
      { title: 'Revenue by currency', unit: MONEY, description: 'Value of orders created, per minute, by currency (before cancellations).' },
      query(major(perMinute(`sum by (currency) (${rate(shop('revenue_total'))})`)), '{{currency}}'),
    ),
  );

export const productViewsByCategory = () =>
  stacked({ title: 'Product views by category', unit: units.CountsPerMinute, description: 'Product detail pages served per minute, by category.' }, query(perMinute(`sum by (category) (${rate(shop('product_views_total'))})`), '{{category}}'));

export const business = shopDashboard({
  uid: 'shop-business',
  title: 'Serverless shop / Business',
  description: 'Orders, revenue, customers and catalogue: counters pushed by the functions, and the database\'s figures collected every minute.',
  tags: ['business'],
  bands: [
    {
      height: 4,
      panels: [
        singleStat({ title: 'Orders in database', unit: units.Short, description: 'All orders in the database, any status (collected every minute).' }, query(`sum(${shop('shop_orders')})`, 'orders')),
        revenueStat(),
        singleStat({ title: 'Products on sale', unit: units.Short, description: 'Products in the catalogue, deleted ones excluded (collected every minute).' }, query(`sum(${shop('shop_products')})`, 'products')),
        singleStat({ title: 'Login failure ratio', unit: units.PercentUnit, description: 'Share of login attempts that failed or were refused on a locked account.' }, query(loginFailureRatio, 'failed'))
          .thresholds(thresholds('green', [0.2, 'orange'], [0.5, 'red'])),
      ],
    },
    {
      row: 'Orders',
      height: 8,
      panels: [
        ordersCreatedByStatus(),
        timeSeries(
          { title: 'Order status transitions', unit: units.CountsPerMinute, description: 'Status changes per minute (paid, shipped, delivered, cancelled), by previous and new status.' },
          query(perMinute(`sum by (from, to) (${rate(shop('order_status_transitions_total'))})`), '{{from}} → {{to}}'),
        ),
      ],
    },
    { height: 8, panels: [revenueByCurrency(), ordersByStatus()] },
    {
      row: 'Customers',
      height: 8,
      panels: [
        timeSeries(
          { title: 'Registrations and logins', unit: units.CountsPerMinute, description: 'Accounts registered and login attempts per minute, by result (locked: refused after repeated failures).' },
          query(perMinute(`sum(${rate(shop('user_registrations_total'))})`), 'registrations'),
          query(perMinute(`sum by (result) (${logins})`), 'logins {{result}}'),
        )
          .overrideByName('logins failure', colour('red'))
          .overrideByName('logins locked', colour('orange')),
        timeSeries({ title: 'Login failure ratio over time', unit: units.PercentUnit, description: 'Share of login attempts that failed or met a locked account. A jump is a guessing attack or a broken login form.' }, query(loginFailureRatio, 'failed'))
          .max(1),
      ],
    },
    {
      row: 'Catalogue',
      height: 8,
      panels: [
        bars({ title: 'Catalogue by category', unit: units.Short, description: 'Products on sale by category, from the database (collected every minute).' }, query(`sum by (category) (${shop('shop_products')})`, '{{category}}')),
        productViewsByCategory(),
      ],
    },
  ],
});
